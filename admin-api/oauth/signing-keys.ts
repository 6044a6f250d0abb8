// The keys the authorization server signs access tokens with, and where they come from: the store
// (default: generated once, rotated by `mcpgate oauth rotate-signing-key`) or oauth.signingKeyFile
// (kept out of the store: the AS publishes only their public halves there, for the gateway).
// Read again every RELOAD_MS (and on SIGHUP), so that running replicas pick up a rotation; the
// routes build a new provider when the keys changed (routes.ts).
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { JWK } from 'jose'
import { ConfigError } from '../../config/load.ts'
import type { Config } from '../../config/schema.ts'
import type { Clock } from '../../core/clock.ts'
import { authorizationServerSecrets, keysInRetention, publishPublicKeys, retentionMs, SIGNING_ALG, withdrawPublicKeys } from '../../core/oauth.ts'
import type { KeyStore } from '../../core/store/store.ts'

/** How often the keys are read again: a rotation reaches every replica within this. */
export const RELOAD_MS = 30_000

const FIELD = 'oauth.signingKeyFile'

export interface SigningKeys {
  /** The kids of `keys` in order: a provider built with other keys is rebuilt. */
  readonly id: string
  /** Private JWKs for oidc-provider; the first signs, the others are published for verification. */
  readonly keys: readonly JWK[]
  /** Keys of oidc-provider's signed cookies (always in the store: they guard only the sign-in's cookies). */
  readonly cookieKeys: readonly string[]
}

export interface SigningKeySourceOptions {
  config: Readonly<Config>
  store: KeyStore
  clock: Clock
  /** A re-read that failed (the file broken since, the store down): the keys in use stay. */
  onReloadFailed?: (err: Error) => void
}

export class SigningKeySource {
  readonly #options: SigningKeySourceOptions
  readonly #file: string | undefined
  /** The file's keys as read at construction: a broken file refuses the start. */
  #fileKeys: JWK[] | null = null
  #current: SigningKeys | null = null
  #loadedAt = Number.NEGATIVE_INFINITY
  #loading: Promise<SigningKeys> | null = null
  /** File mode: the kids last published in the store. */
  #published: string | null = null

  /** Reads oauth.signingKeyFile when set: one that is unreadable or holds no EC P-256 private key first throws ConfigError. */
  constructor (options: SigningKeySourceOptions) {
    this.#options = options
    this.#file = options.config.oauth.signingKeyFile
    if (this.#file !== undefined) this.#fileKeys = readSigningKeyFile(this.#file)
  }

  /** The keys to sign with now: read again once RELOAD_MS passed since the last read; a failed re-read keeps them. */
  async current (): Promise<SigningKeys> {
    const current = this.#current
    if (current !== null && this.#options.clock.now() - this.#loadedAt < RELOAD_MS) return current
    this.#loading ??= this.#load().then(keys => {
      this.#current = keys
      this.#loadedAt = this.#options.clock.now()
      return keys
    }, (err: unknown) => {
      // The first read's failure is the caller's (nothing to sign with yet).
      if (this.#current === null) throw err
      this.#loadedAt = this.#options.clock.now()
      this.#options.onReloadFailed?.(err as Error)
      return this.#current
    }).finally(() => { this.#loading = null })
    return await this.#loading
  }

  /** SIGHUP: the next request reads the file (or the store's keys) again. */
  reload (): void {
    this.#loadedAt = Number.NEGATIVE_INFINITY
  }

  async #load (): Promise<SigningKeys> {
    const { store, clock, config } = this.#options
    if (this.#file === undefined) {
      const secrets = await authorizationServerSecrets(store)
      // Public keys published while a key file was configured would hide the store's from the gateway.
      if (this.#current === null) await withdrawPublicKeys(store)
      const keys = keysInRetention(secrets, clock.now(), retentionMs(config.oauth.accessTokenTtlSeconds))
      return { id: kidsOf(keys), keys, cookieKeys: secrets.cookieKeys }
    }
    const fileKeys = this.#fileKeys ?? readSigningKeyFile(this.#file)
    this.#fileKeys = null
    const secrets = await authorizationServerSecrets(store, { signingKey: false })
    // Published before any provider signs with them: the gateway finds a new kid once it sees one.
    if (this.#published !== kidsOf(fileKeys)) {
      await publishPublicKeys(store, fileKeys)
      this.#published = kidsOf(fileKeys)
    }
    // oidc-provider takes private keys only; public ones in the file verify at the gateway.
    const keys = fileKeys.filter(k => k.d !== undefined)
    return { id: kidsOf(keys), keys, cookieKeys: secrets.cookieKeys }
  }
}

function kidsOf (keys: readonly JWK[]): string {
  return keys.map(k => k.kid ?? '').join(' ')
}

function refuse (problem: string): never {
  throw new ConfigError([`${FIELD}: ${problem}`])
}

/**
 * The keys of a signing key file: PEM (PKCS#8 or SEC1 EC private keys, public keys after the
 * first) or JSON (a JWK, or a JWKS whose first key signs). Every key must be EC P-256 (ES256,
 * the one algorithm the gateway accepts); the first must be private. Returns JWKs with `kid` (the
 * file's, else the RFC 7638 thumbprint: every replica names the key alike), `alg` and `use`.
 */
export function readSigningKeyFile (path: string): JWK[] {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    refuse(`cannot read ${path}: ${e.code === 'ENOENT' ? 'ENOENT (no such file)' : e.code ?? e.message}`)
  }
  const trimmed = text.trim()
  const keys = trimmed.startsWith('-----BEGIN') ? pemKeys(path, trimmed) : jsonKeys(path, trimmed)
  if (keys.length === 0) refuse(`${path} holds no key`)
  const kids = new Set<string>()
  return keys.map(({ key, kid }, i) => {
    const which = keys.length === 1 ? 'its key' : `key ${i + 1}`
    const details = key.asymmetricKeyDetails
    if (key.asymmetricKeyType !== 'ec' || details?.namedCurve !== 'prime256v1') {
      const type = key.asymmetricKeyType === 'ec' ? `an EC ${details?.namedCurve ?? ''} key` : `an ${(key.asymmetricKeyType ?? 'unknown').toUpperCase()} key`
      refuse(`${which} of ${path} is ${type}; it must be an EC P-256 (ES256) private key`)
    }
    if (i === 0 && key.type !== 'private') refuse(`the first key of ${path} is a public key; it signs, so it must be an EC P-256 private key`)
    const jwk = key.export({ format: 'jwk' }) as JWK
    const named = { ...jwk, kid: kid ?? thumbprint(jwk), alg: SIGNING_ALG, use: 'sig' }
    if (kids.has(named.kid)) refuse(`${path} holds the key ${named.kid} twice`)
    kids.add(named.kid)
    return named
  })
}

function pemKeys (path: string, text: string): Array<{ key: KeyObject, kid?: string }> {
  const blocks = text.match(/-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g) ?? []
  return blocks.map((block, i) => {
    try {
      return { key: /PUBLIC KEY-----$/.test(block) ? createPublicKey(block) : createPrivateKey(block) }
    } catch {
      return refuse(`PEM block ${i + 1} of ${path} is not a key this server can read (an EC P-256 private key in PKCS#8 or SEC1 PEM)`)
    }
  })
}

function jsonKeys (path: string, text: string): Array<{ key: KeyObject, kid?: string }> {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    refuse(`${path} is neither PEM nor JSON (an EC P-256 private key as PKCS#8 PEM, a JWK or a JWKS)`)
  }
  const list = isObject(json) && Array.isArray(json.keys) ? json.keys as unknown[] : [json]
  return list.map((jwk, i) => {
    const which = list.length === 1 ? 'its key' : `key ${i + 1}`
    if (!isObject(jwk) || typeof jwk.kty !== 'string') refuse(`${which} of ${path} is not a JWK`)
    if (jwk.alg !== undefined && jwk.alg !== SIGNING_ALG) refuse(`${which} of ${path} has alg ${String(jwk.alg)}; it must be an EC P-256 (ES256) private key`)
    if (jwk.use !== undefined && jwk.use !== 'sig') refuse(`${which} of ${path} has use ${String(jwk.use)}, not sig`)
    try {
      const key = typeof jwk.d === 'string' ? createPrivateKey({ key: jwk as never, format: 'jwk' }) : createPublicKey({ key: jwk as never, format: 'jwk' })
      return typeof jwk.kid === 'string' && jwk.kid !== '' ? { key, kid: jwk.kid } : { key }
    } catch {
      return refuse(`${which} of ${path} is not a valid ${String(jwk.kty)} JWK`)
    }
  })
}

function isObject (v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

/** RFC 7638 §3.2: the SHA-256 of the required members in lexicographic order. */
function thumbprint (jwk: JWK): string {
  return createHash('sha256').update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y })).digest('base64url')
}
