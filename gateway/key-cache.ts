// In-process caches on the auth path: verified keys (by keyId), users' access state (by userId)
// and failed (keyId, digest) pairs. All bounded by count; all evicted by invalidation events.
import { LRUCache } from 'lru-cache'
import type { Role } from '../core/store/store.ts'

/**
 * A verified key. Holds a sha256 of the full key, never the key or its argon2 hash. keyId and
 * userId must come from the store record, not from the parsed key: those are V8 sliced strings
 * that keep the whole raw key (secret included) alive for as long as the entry is cached.
 */
export interface CachedKey {
  readonly keyId: string
  readonly digest: Buffer
  readonly userId: string
  readonly scope: readonly string[]
  readonly expiresAt: number | null
  readonly fingerprint: string
  readonly name: string
  readonly createdAt: number
  /** Last confirmation against the store (clock ms). */
  checkedAt: number
  /** Resync epoch of that confirmation; older than the cache's epoch means stale. */
  epoch: number
}

export interface UserState {
  readonly id: string
  readonly email: string
  readonly name: string
  readonly role: Role
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
   * digest hex → remembered until (clock ms). The digest covers the whole key, keyId included;
   * keying by it alone keeps slices of the raw key (see CachedKey) out of this map.
   */
  readonly #negative: LRUCache<string, number>
  /** userId → keyIds cached for that user, so a user event evicts their keys without a scan. */
  readonly #byUser = new Map<string, Set<string>>()
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
    this.#keys = new LRUCache<string, CachedKey>({
      max: options.maxKeys,
      dispose: (entry, keyId, reason) => {
        // Overwrites fix the index in setKey(); everything else (evict, delete, clear) unlinks here.
        if (reason !== 'set') this.#unlink(entry.userId, keyId)
      }
    })
    this.#users = new LRUCache<string, CachedUser>({ max: options.maxUsers })
    this.#negative = new LRUCache<string, number>({ max: options.negativeSize })
  }

  get epoch (): number { return this.#epoch }
  get generation (): number { return this.#generation }

  getKey (keyId: string): CachedKey | undefined {
    return this.#keys.get(keyId)
  }

  setKey (entry: CachedKey): void {
    const previous = this.#keys.peek(entry.keyId)
    if (previous !== undefined && previous.userId !== entry.userId) this.#unlink(previous.userId, entry.keyId)
    this.#keys.set(entry.keyId, entry)
    let ids = this.#byUser.get(entry.userId)
    if (ids === undefined) {
      ids = new Set()
      this.#byUser.set(entry.userId, ids)
    }
    ids.add(entry.keyId)
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

  hasFailed (digestHex: string, now: number): boolean {
    const until = this.#negative.get(digestHex)
    if (until === undefined) return false
    if (until > now) return true
    this.#negative.delete(digestHex)
    return false
  }

  rememberFailure (digestHex: string, now: number): void {
    this.#negative.set(digestHex, now + this.#negativeTtlMs)
  }

  evictKey (keyId: string): void {
    this.#generation++
    this.#keys.delete(keyId)
  }

  /** The user's access state and every key of theirs. */
  evictUser (userId: string): void {
    this.#generation++
    this.#users.delete(userId)
    const ids = this.#byUser.get(userId)
    if (ids === undefined) return
    for (const keyId of [...ids]) this.#keys.delete(keyId)
    this.#byUser.delete(userId)
  }

  clear (): void {
    this.#generation++
    this.#keys.clear()
    this.#users.clear()
    this.#byUser.clear()
    this.#negative.clear()
  }

  markAllStale (): void {
    this.#epoch++
  }

  get size (): { keys: number, users: number, negative: number } {
    return { keys: this.#keys.size, users: this.#users.size, negative: this.#negative.size }
  }

  #unlink (userId: string, keyId: string): void {
    const ids = this.#byUser.get(userId)
    if (ids === undefined) return
    ids.delete(keyId)
    if (ids.size === 0) this.#byUser.delete(userId)
  }
}
