// In-process caches on the auth path: verified keys (by keyId), users' access state (by userId)
// and failed (keyId, digest) pairs. All bounded by count; all evicted by invalidation events.
import { LRUCache } from 'lru-cache'
import type { KeyDigest } from '../core/hashing.ts'
import type { RateLimits } from '../core/limits.ts'
import type { KeyScopes } from '../core/tool-scope.ts'
import type { Role, UserKind } from '../core/store/store.ts'

/**
 * A verified key: what a cache hit needs, nothing more — not its name or dates (GET /api/me reads
 * them). 100,000 of them, the memory target, take ~39 MB of heap with their LRU slots. Holds a
 * sha256 of the full key, never the key or its argon2 hash. keyId and userId must come from the
 * store record, not from the parsed key: those are V8 sliced strings that keep the whole raw key
 * (secret included) alive for as long as it is cached.
 */
export interface CachedKey {
  readonly keyId: string
  /** sha256 of the key with the current secret, once a request proved it; null until then. */
  digest: KeyDigest | null
  /** sha256 of the key with the previous secret (rotation), once proved; null until then. */
  previousDigest: KeyDigest | null
  /** Until when the previous secret is valid (clock ms); null: there is none. */
  readonly previousUntil: number | null
  /** The current secret's generation (how often the key was rotated). */
  readonly secretGeneration: number
  readonly userId: string
  readonly scope: readonly string[]
  /** Per-tool scopes, frozen; null for whole servers. */
  readonly scopes: KeyScopes | null
  /** The key's own rate limits; null: the config's defaults. */
  readonly limits: RateLimits | null
  readonly expiresAt: number | null
  readonly fingerprint: string
  /** Last confirmation against the store (clock ms). */
  checkedAt: number
  /** Resync epoch of that confirmation; older than the cache's epoch means stale. */
  epoch: number
}

/** At most this many distinct scopes are shared between entries; past it each gets its own copy. */
const MAX_SHARED_SCOPES = 10_000
const sharedScopes = new Map<string, readonly string[]>()

/**
 * One frozen array per distinct scope, shared by every key that has it (most keys have one of a
 * few: `['*']` or a server or two), instead of an array per cached key.
 */
export function sharedScope (ids: readonly string[]): readonly string[] {
  const id = ids.join('\n')
  const known = sharedScopes.get(id)
  if (known !== undefined) return known
  const scope = Object.freeze([...ids])
  if (sharedScopes.size < MAX_SHARED_SCOPES) sharedScopes.set(id, scope)
  return scope
}

export interface UserState {
  readonly id: string
  readonly email: string
  readonly name: string
  readonly role: Role
  readonly kind: UserKind
  readonly groups: string[]
  readonly disabled: boolean
}

export interface CachedUser {
  readonly user: UserState
  checkedAt: number
  epoch: number
}

export interface KeyCacheOptions {
  maxKeys: number
  maxUsers: number
  negativeSize: number
  /** How long a failed (keyId, digest) pair is remembered (clock ms). */
  negativeTtlMs: number
}

export class KeyCache {
  readonly #keys: LRUCache<string, CachedKey>
  readonly #users: LRUCache<string, CachedUser>
  /**
   * digest → remembered until (clock ms). The digest covers the whole key, keyId included;
   * keying by it alone keeps slices of the raw key (see CachedKey) out of this map.
   */
  readonly #negative: LRUCache<KeyDigest, number>
  readonly #negativeTtlMs: number
  /**
   * Bumped when invalidation messages may have been lost (a resubscribe): every entry confirmed
   * under an older epoch is stale at once, without walking the cache.
   */
  #epoch = 0
  /** Bumped by every eviction: a store read that raced an invalidation must not re-cache its result. */
  #generation = 0

  constructor (options: KeyCacheOptions) {
    this.#negativeTtlMs = options.negativeTtlMs
    this.#keys = new LRUCache<string, CachedKey>({ max: options.maxKeys })
    this.#users = new LRUCache<string, CachedUser>({ max: options.maxUsers })
    this.#negative = new LRUCache<KeyDigest, number>({ max: options.negativeSize })
  }

  get epoch (): number { return this.#epoch }
  get generation (): number { return this.#generation }

  getKey (keyId: string): CachedKey | undefined {
    return this.#keys.get(keyId)
  }

  setKey (entry: CachedKey): void {
    this.#keys.set(entry.keyId, entry)
  }

  getUser (userId: string): CachedUser | undefined {
    return this.#users.get(userId)
  }

  setUser (entry: CachedUser): void {
    this.#users.set(entry.user.id, entry)
  }

  isStale (entry: { epoch: number }): boolean {
    return entry.epoch < this.#epoch
  }

  hasFailed (digest: KeyDigest, now: number): boolean {
    const until = this.#negative.get(digest)
    if (until === undefined) return false
    if (until > now) return true
    this.#negative.delete(digest)
    return false
  }

  rememberFailure (digest: KeyDigest, now: number): void {
    this.#negative.set(digest, now + this.#negativeTtlMs)
  }

  evictKey (keyId: string): void {
    this.#generation++
    this.#keys.delete(keyId)
  }

  /**
   * The user's access state. Their cached keys stay, but a key is only served from cache with its
   * owner's state cached too: each key's next request rereads key and owner from the store (one
   * read, no argon2). No per-user index of keys is kept for this — it cost ~150 bytes per user.
   */
  evictUser (userId: string): void {
    this.#generation++
    this.#users.delete(userId)
  }

  clear (): void {
    this.#generation++
    this.#keys.clear()
    this.#users.clear()
    this.#negative.clear()
  }

  markAllStale (): void {
    this.#epoch++
  }

  get size (): { keys: number, users: number, negative: number } {
    return { keys: this.#keys.size, users: this.#users.size, negative: this.#negative.size }
  }
}
