// Creates users and API keys directly in a store for the bench (no admin API round trips).
// Bulk keys use cheap argon2 parameters so that 100,000 keys take seconds, not an hour; the
// cold-key and flood-victim keys use the production default so their cost is the real one.
import { writeFileSync } from 'node:fs'
import { generateKey, newKeyId } from '../core/key-format.ts'
import { DEFAULT_ARGON2, hashSecret, type Argon2Params } from '../core/hashing.ts'
import type { KeyStore, User } from '../core/store/store.ts'
import type { RateLimits } from '../core/limits.ts'
import type { KeyScopes } from '../core/tool-scope.ts'

/** m=8 KiB, t=1: ~30 µs per hash. Verification reads the parameters from the PHC string. */
export const CHEAP_ARGON2: Argon2Params = Object.freeze({ memoryCost: 8, timeCost: 1, parallelism: 1 })
export { DEFAULT_ARGON2 }

export interface SeededKey {
  key: string
  keyId: string
  userId: string
}

const BATCH = 256

export async function createUsers (store: KeyStore, count: number, tag: string): Promise<User[]> {
  const users: User[] = []
  for (let i = 0; i < count; i += BATCH) {
    const batch = []
    for (let j = i; j < Math.min(count, i + BATCH); j++) {
      batch.push(store.createUser({ email: `bench-${tag}-${j}@bench.invalid`, name: `bench ${tag} ${j}`, role: 'user', groups: [] }))
    }
    users.push(...await Promise.all(batch))
  }
  return users
}

/**
 * `count` keys spread round-robin over `users`, for every server, never expiring; with `scopes`,
 * limited to those tools, prompts and resources (per-tool scopes: the gateway then reads every
 * POST body and filters every list); with `limits`, the keys' own rate limits and quotas.
 */
export async function createKeys (store: KeyStore, users: User[], count: number, params: Argon2Params, { now = Date.now(), scopes = null, limits = null }: { now?: number, scopes?: KeyScopes | null, limits?: RateLimits | null } = {}): Promise<SeededKey[]> {
  const keys: SeededKey[] = []
  for (let i = 0; i < count; i += BATCH) {
    const batch = []
    for (let j = i; j < Math.min(count, i + BATCH); j++) {
      const user = users[j % users.length] as User
      const g = generateKey(user.id)
      batch.push(hashSecret(g.secret, params).then(secretHash => store.createKey({
        id: g.keyId,
        userId: g.userId,
        name: `bench key ${j}`,
        description: '',
        mcpServerIds: ['*'],
        createdAt: now,
        expiresAt: null,
        lastUsedAt: null,
        secretHash,
        ...(scopes === null ? {} : { scopes }),
        ...(limits === null ? {} : { limits })
      })).then(() => ({ key: g.key, keyId: g.keyId, userId: g.userId })))
    }
    keys.push(...await Promise.all(batch))
  }
  return keys
}

/** Well-formed keys (valid checksum) with the wrong secret for existing key ids, and for unknown ids. */
export function wrongSecretKeys (victims: SeededKey[], count: number): string[] {
  const out: string[] = []
  for (let i = 0; i < count; i++) {
    const v = victims[i % victims.length] as SeededKey
    out.push(i % 2 === 0 ? generateKey(v.userId, v.keyId).key : generateKey(v.userId, newKeyId()).key)
  }
  return out
}

/** Keys that fail the checksum: refused by the parser before any store or hash work. */
export function malformedKeys (valid: SeededKey[], count: number): string[] {
  const out: string[] = []
  for (let i = 0; i < count; i++) {
    const k = (valid[i % valid.length] as SeededKey).key
    const last = k.charAt(k.length - 1)
    out.push(k.slice(0, -1) + (last === 'A' ? 'B' : 'A'))
  }
  return out
}

export function writeKeysFile (path: string, keys: Iterable<string>): string {
  writeFileSync(path, [...keys].join('\n') + '\n', { mode: 0o600 })
  return path
}
