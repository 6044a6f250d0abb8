// The API key format `ok1-<userId>-<keyId>-<secret>`: generation and a total, I/O-free parser.
import { randomBytes } from 'node:crypto'
import { crc32 } from 'node:zlib'

export const KEY_PREFIX = 'ok1'
export const USER_ID_MAX = 32
export const KEY_ID_LENGTH = 16
export const SECRET_RANDOM_LENGTH = 40
export const CHECKSUM_LENGTH = 6
export const SECRET_LENGTH = SECRET_RANDOM_LENGTH + CHECKSUM_LENGTH
/** Longest well-formed key; the parser refuses anything longer before looking at it. */
export const KEY_MAX_LENGTH = KEY_PREFIX.length + 1 + USER_ID_MAX + 1 + KEY_ID_LENGTH + 1 + SECRET_LENGTH

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

export interface ParsedKey {
  userId: string
  keyId: string
  secret: string
}

export type KeyParseFailure =
  | 'empty'
  | 'too_long'
  | 'bad_prefix'
  | 'bad_shape'
  | 'bad_user_id'
  | 'bad_key_id'
  | 'bad_secret'
  | 'bad_checksum'

export type KeyParseResult = { ok: true, key: ParsedKey } | { ok: false, reason: KeyParseFailure }

/** Uniformly random base62 string from the CSPRNG (rejection sampling: no modulo bias). */
export function randomBase62 (length: number): string {
  let out = ''
  while (out.length < length) {
    const bytes = randomBytes(Math.ceil((length - out.length) * 1.3) + 4)
    for (let i = 0; i < bytes.length && out.length < length; i++) {
      const b = bytes[i] as number
      if (b < 248) out += ALPHABET[b % 62]
    }
  }
  return out
}

function toBase62Fixed (value: number, width: number): string {
  let out = ''
  let v = value
  for (let i = 0; i < width; i++) {
    out = ALPHABET[v % 62] + out
    v = Math.floor(v / 62)
  }
  return out
}

/** 6-char base62 CRC32 of everything before the checksum (fits: 62^6 > 2^32). */
export function checksumOf (body: string): string {
  return toBase62Fixed(crc32(body) >>> 0, CHECKSUM_LENGTH)
}

export function isBase62 (s: string, min: number, max: number): boolean {
  if (s.length < min || s.length > max) return false
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    // 0-9, A-Z, a-z
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122))) return false
  }
  return true
}

export function isValidUserId (id: string): boolean {
  return isBase62(id, 1, USER_ID_MAX)
}

export function isValidKeyId (id: string): boolean {
  return isBase62(id, KEY_ID_LENGTH, KEY_ID_LENGTH)
}

export function newKeyId (): string {
  return randomBase62(KEY_ID_LENGTH)
}

/** User ids are store-assigned; 12 base62 chars (~71 bits) keeps them short and unguessable. */
export function newUserId (): string {
  return randomBase62(12)
}

export interface GeneratedKey extends ParsedKey {
  /** The full key, shown once to its owner. */
  key: string
}

export function generateKey (userId: string, keyId: string = newKeyId()): GeneratedKey {
  if (!isValidUserId(userId)) throw new TypeError('generateKey: userId must be 1-32 base62 characters')
  if (!isValidKeyId(keyId)) throw new TypeError('generateKey: keyId must be 16 base62 characters')
  const body = `${KEY_PREFIX}-${userId}-${keyId}-${randomBase62(SECRET_RANDOM_LENGTH)}`
  const key = body + checksumOf(body)
  return { key, userId, keyId, secret: key.slice(key.length - SECRET_LENGTH) }
}

/**
 * Total parser: any value in, a key or a reason out; never throws. Rejects by length first so
 * a hostile 1 MB header costs nothing, and checks the checksum so typos never reach the store.
 */
export function parseKey (input: unknown): KeyParseResult {
  if (typeof input !== 'string' || input.length === 0) return { ok: false, reason: 'empty' }
  if (input.length > KEY_MAX_LENGTH) return { ok: false, reason: 'too_long' }
  if (!input.startsWith(KEY_PREFIX + '-')) return { ok: false, reason: 'bad_prefix' }
  const start = KEY_PREFIX.length + 1
  const d1 = input.indexOf('-', start)
  if (d1 < 0) return { ok: false, reason: 'bad_shape' }
  const d2 = input.indexOf('-', d1 + 1)
  if (d2 < 0 || input.indexOf('-', d2 + 1) >= 0) return { ok: false, reason: 'bad_shape' }
  const userId = input.slice(start, d1)
  const keyId = input.slice(d1 + 1, d2)
  const secret = input.slice(d2 + 1)
  if (!isValidUserId(userId)) return { ok: false, reason: 'bad_user_id' }
  if (!isValidKeyId(keyId)) return { ok: false, reason: 'bad_key_id' }
  if (!isBase62(secret, SECRET_LENGTH, SECRET_LENGTH)) return { ok: false, reason: 'bad_secret' }
  const body = input.slice(0, input.length - CHECKSUM_LENGTH)
  if (checksumOf(body) !== input.slice(input.length - CHECKSUM_LENGTH)) return { ok: false, reason: 'bad_checksum' }
  return { ok: true, key: { userId, keyId, secret } }
}

/** `%XX` decoded byte by byte, leniently (a malformed escape stays as it is), up to three times (double encoding). */
function percentDecoded (text: string): string {
  let out = text
  for (let i = 0; i < 3 && out.includes('%'); i++) {
    const next = out.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)))
    if (next === out) break
    out = next
  }
  return out
}

const KEY_MARK = /ok1-/i

/**
 * True when `text` holds something key-shaped, spelled plainly or percent-encoded (`ok1%2D…`,
 * `%6F%6B%31%2D…`, `+`-for-space query encoding): what must never be logged or sent upstream.
 */
export function containsKey (text: string): boolean {
  if (KEY_MARK.test(text)) return true
  if (!text.includes('%') && !text.includes('+')) return false
  return KEY_MARK.test(percentDecoded(text.replace(/\+/g, ' ')))
}

const PLAIN_KEY = /ok1-[A-Za-z0-9-]*/gi
/** A path segment or a query name or value: what one key, encoded, would be part of. */
const URL_PART = /[^/?&=#;,\s"]+/g

/**
 * Anything shaped like a key, masked: for text that is logged or echoed (a URL, a message).
 * Spelled plainly, or percent-encoded anywhere in a path segment or query part (that whole part
 * goes).
 */
export function redactKeys (text: string): string {
  const out = text.replace(PLAIN_KEY, `${KEY_PREFIX}-[redacted]`)
  if (!out.includes('%')) return out
  return out.replace(URL_PART, part => part.includes('%') && containsKey(part) ? `${KEY_PREFIX}-[redacted]` : part)
}
