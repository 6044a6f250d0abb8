// Authentication (onRequest, before any body is read): API key from the headers → parse (no I/O)
// → key cache (sha256 compared in constant time) → on a miss: guards, one store read, argon2.
// Expected outcomes are values (AuthResult); the hook turns failures into errors from core/errors.
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction, onRequestHookHandler } from 'fastify'
import { LRUCache } from 'lru-cache'
import type { Config } from '../config/schema.ts'
import type { Clock } from '../core/clock.ts'
import { errors } from '../core/errors.ts'
import { FailureBudget } from '../core/failure-budget.ts'
import { digestsEqual, keyDigest, verifySecret, type KeyDigest } from '../core/hashing.ts'
import { KEY_PREFIX, parseKey, type KeyParseResult, type ParsedKey } from '../core/key-format.ts'
import { keyFingerprint, type ApiKeyRecord, type KeyStore, type User } from '../core/store/store.ts'
import { SingleFlight, TokenBucket, VerificationLimiter } from '../core/guards.ts'
import { sharedScope, type CachedKey, type CachedUser, type KeyCache, type UserState } from './key-cache.ts'
import type { RateLimits } from '../core/limits.ts'
import type { KeyScopes } from '../core/tool-scope.ts'
import type { LastUsedRecorder } from './last-used.ts'
import type { AuthVia } from './request-record.ts'
import { isJwtShaped, type OAuthResource, type TokenVerdict } from './oauth.ts'
import { endpointUrl } from '../core/oauth.ts'

export type { AuthVia } from './request-record.ts'

/**
 * Who is calling: the key's scope and its owner's current state, both from invalidatable cache.
 * The key's other metadata (name, dates) is not cached; GET /api/me reads it from the store.
 */
export interface Principal {
  readonly keyId: string
  readonly userId: string
  readonly scope: readonly string[]
  /** The key's per-tool scopes (frozen), null for whole servers (tool-rules.ts). */
  readonly scopes: KeyScopes | null
  /** The key's own rate limits and quotas; null: the config's defaults (limits.ts). */
  readonly limits: RateLimits | null
  /**
   * Until when this request's secret is valid (clock ms), null for never: the key's expiry, or the
   * end of the overlap for a rotated-out secret. Open streams end at it (revocation.ts).
   */
  readonly expiresAt: number | null
  /** The generation of the secret this request used (a rotation makes a new one). */
  readonly secretGeneration: number
  readonly user: UserState
}

export type AuthFailureName = 'KeyMissing' | 'KeyMalformed' | 'KeyInvalid' | 'KeyExpired' | 'OwnerDisabled'
export type AuthUnavailableName = 'RateLimited' | 'Overloaded' | 'StoreUnavailable'

export type AuthResult =
  | { ok: true, principal: Principal, via: AuthVia }
  | { ok: false, error: AuthFailureName }
  | { ok: false, error: AuthUnavailableName, retryAfter: number }

/** Plain counters for tests and, later, metrics. */
export interface AuthStats {
  argon2Verifications: number
  storeReads: number
  cacheHits: number
  cacheMisses: number
  revalidations: number
  /** Requests served from cache while the store was unreachable (grace window). */
  graceServed: number
  storeErrors: number
  /** Outcome → count: `ok`, or an error name such as `KeyInvalid`. */
  outcomes: Record<string, number>
}

export function newAuthStats (): AuthStats {
  return { argon2Verifications: 0, storeReads: 0, cacheHits: 0, cacheMisses: 0, revalidations: 0, graceServed: 0, storeErrors: 0, outcomes: {} }
}

/**
 * When the store last answered (clock ms): the grace window for cached keys counts from here.
 * `failing` is set by the first failed store call the gateway sees (an auth read, a lastUsed
 * flush, a readiness ping) and cleared by the next that succeeds: from then on even fresh cache
 * entries are served as grace, so the window bounds them too.
 */
export class StoreHealth {
  lastHealthyAt: number
  failing = false
  constructor (private readonly clock: Clock) {
    this.lastHealthyAt = clock.now()
  }

  markHealthy (): void {
    this.lastHealthyAt = this.clock.now()
    this.failing = false
  }

  markFailed (): void {
    this.failing = true
  }
}

const STORE_RETRY_AFTER_S = 2
const FAILED_ATTEMPTS = 'too many failed authentication attempts; retry later'
const OVERLOADED_RETRY_AFTER_S = 1

type Verdict = AuthResult | { ok: false, error: 'Changed', found: { key: ApiKeyRecord, owner: User }, generation: number }

/** Verifications per second a keyId gets once its failures from all addresses spend `failuresPerKeyIdAllIps`. */
const SLOW_LANE_PER_SECOND = 1

export interface AuthenticatorOptions {
  store: KeyStore
  cache: KeyCache
  clock: Clock
  health: StoreHealth
  stats: AuthStats
  config: Readonly<Config['gateway']>
  /** Told the duration of every argon2 verification (metrics). */
  onVerification?: (seconds: number, valid: boolean) => void
  /** argon2 verification; default verifySecret (the gateway passes its low-priority verifier). */
  verify?: (phc: string, secret: string) => Promise<boolean>
}

export class Authenticator {
  readonly #store: KeyStore
  readonly #cache: KeyCache
  readonly #clock: Clock
  readonly #health: StoreHealth
  readonly #stats: AuthStats
  readonly #revalidateMs: number
  readonly #graceMs: number
  /** Failures of one keyId from one client address: the attacker's address is throttled, the owner's is not. */
  readonly #pairBudget: FailureBudget
  /** Failures of one keyId from every address: past it the keyId is verified in a slow lane, never locked. */
  readonly #keyBudget: FailureBudget
  readonly #slowLanes: LRUCache<string, TokenBucket>
  readonly #ipBudget: FailureBudget
  readonly #limiter: VerificationLimiter
  readonly #unprovenRate: TokenBucket
  readonly #verifications = new SingleFlight<AuthResult>()
  readonly #revalidations = new SingleFlight<Verdict>()
  /** Concurrent requests with tokens naming one uncached record share its one store read. */
  readonly #tokenLoads = new SingleFlight<AuthResult>()
  readonly #onVerification: AuthenticatorOptions['onVerification']
  readonly #argon2Verify: (phc: string, secret: string) => Promise<boolean>

  constructor (options: AuthenticatorOptions) {
    this.#store = options.store
    this.#cache = options.cache
    this.#clock = options.clock
    this.#health = options.health
    this.#stats = options.stats
    const { cache, guards } = options.config
    this.#revalidateMs = cache.revalidateMs
    this.#graceMs = cache.graceMs
    this.#pairBudget = new FailureBudget(guards.failuresPerKeyId, guards.failureWindowMs, options.clock)
    this.#keyBudget = new FailureBudget(guards.failuresPerKeyIdAllIps, guards.failureWindowMs, options.clock)
    this.#slowLanes = new LRUCache({ max: 10_000 })
    this.#ipBudget = new FailureBudget(guards.failuresPerIp, guards.failureWindowMs, options.clock)
    this.#limiter = new VerificationLimiter(guards.maxConcurrentVerifications)
    this.#unprovenRate = new TokenBucket(guards.maxVerificationsPerSecond, options.clock)
    this.#onVerification = options.onVerification
    this.#argon2Verify = options.verify ?? verifySecret
  }

  /**
   * `rawKey` undefined = no key sent; `parsed` its parse (the caller parses once, see
   * authenticationHook). `ip` is the client address the failure budgets count.
   * Synchronous whenever no I/O is needed — a fresh cached key (most requests), and refusals
   * decided from the key or the cache alone; a promise otherwise.
   */
  authenticate (rawKey: string | undefined, ip: string, parsed: KeyParseResult | null = rawKey === undefined ? null : parseKey(rawKey)): AuthResult | Promise<AuthResult> {
    const result = this.#authenticate(rawKey, parsed, ip)
    return result instanceof Promise ? result.then(r => this.#count(r)) : this.#count(result)
  }

  /**
   * OAuth mode: the key record an access token names (gateway/oauth.ts verified the token and its
   * audience). Resolved as a key is, from the same cache, without any secret: the token was the
   * proof. Synchronous for a fresh cached record; one store read otherwise (no argon2 ever).
   */
  authenticateToken (keyId: string): AuthResult | Promise<AuthResult> {
    const result = this.#token(keyId)
    return result instanceof Promise ? result.then(r => this.#count(r)) : this.#count(result)
  }

  #token (keyId: string): AuthResult | Promise<AuthResult> {
    const cached = this.#cache.getKey(keyId)
    if (cached !== undefined) {
      const now = this.#clock.now()
      if (cached.expiresAt !== null && cached.expiresAt <= now) return { ok: false, error: 'KeyExpired' }
      const user = this.#cache.getUser(cached.userId)
      if (user !== undefined && this.#fresh(cached, now) && this.#fresh(user, now)) {
        if (!this.#health.failing) {
          this.#stats.cacheHits++
          return evaluate(cached, user.user, now, 'cache', 'current')
        }
        if (this.#withinGrace(now)) {
          this.#stats.graceServed++
          return evaluate(cached, user.user, now, 'grace', 'current')
        }
      }
    }
    this.#stats.cacheMisses++
    return this.#tokenLoads.run(keyId, () => this.#loadForToken(keyId, cached))
  }

  /** One store read: the record the token names and its owner; cached as a key is. */
  async #loadForToken (keyId: string, cached: CachedKey | undefined): Promise<AuthResult> {
    const generation = this.#cache.generation
    const found = await this.#read(keyId)
    const now = this.#clock.now()
    if (found === undefined) {
      const user = cached === undefined ? undefined : this.#cache.getUser(cached.userId)
      if (cached !== undefined && user !== undefined && this.#withinGrace(now) && this.#cache.getKey(keyId) === cached) {
        this.#stats.graceServed++
        return evaluate(cached, user.user, now, 'grace', 'current')
      }
      return { ok: false, error: 'StoreUnavailable', retryAfter: STORE_RETRY_AFTER_S }
    }
    if (found === null || found.owner.id !== found.key.userId) {
      this.#cache.evictKey(keyId)
      return { ok: false, error: 'KeyInvalid' }
    }
    const record = found.key
    const user = this.#ownerState(found.owner)
    const fingerprint = keyFingerprint(record)
    // No secret proved on this path: a key-path request with this id still verifies its own.
    const entry = cached !== undefined && cached.fingerprint === fingerprint ? cached : cachedEntry(record, user, fingerprint, now, this.#cache.epoch)
    // An invalidation that arrived during the read wins: nothing is cached from it.
    if (this.#cache.generation === generation) {
      entry.checkedAt = now
      entry.epoch = this.#cache.epoch
      if (entry !== cached) this.#cache.setKey(entry)
      this.#cache.setUser({ user, checkedAt: now, epoch: this.#cache.epoch })
    }
    return evaluate(entry, user, now, entry === cached ? 'revalidated' : 'verified', 'current')
  }

  #count (result: AuthResult): AuthResult {
    const name = result.ok ? 'ok' : result.error
    this.#stats.outcomes[name] = (this.#stats.outcomes[name] ?? 0) + 1
    return result
  }

  #authenticate (rawKey: string | undefined, parsed: KeyParseResult | null, ip: string): AuthResult | Promise<AuthResult> {
    if (rawKey === undefined || parsed === null) return { ok: false, error: 'KeyMissing' }
    if (!parsed.ok) return { ok: false, error: 'KeyMalformed' }
    const { keyId } = parsed.key
    const digest = keyDigest(rawKey)
    const cached = this.#cache.getKey(keyId)
    if (cached !== undefined) {
      if (cached.digest !== null && digestsEqual(cached.digest, digest)) {
        this.#stats.cacheHits++
        return this.#fromCache(cached, parsed.key, digest, 'current', ip)
      }
      if (cached.previousDigest !== null && digestsEqual(cached.previousDigest, digest)) {
        this.#stats.cacheHits++
        // A rotated-out secret: valid until its overlap ends, then refused like any wrong one.
        if (cached.previousUntil !== null && cached.previousUntil > this.#clock.now()) return this.#fromCache(cached, parsed.key, digest, 'previous', ip)
        return { ok: false, error: 'KeyInvalid' }
      }
      // A record no key has proved a secret of yet (cached by an OAuth token naming it), or a
      // rotated one whose other secret no request has proved: the key may be that one; verified
      // like a first use.
      const unproven = cached.digest === null || (cached.previousUntil !== null && cached.previousUntil > this.#clock.now() && cached.previousDigest === null)
      if (unproven) {
        this.#stats.cacheMisses++
        return this.#miss(parsed.key, digest, ip)
      }
      // Same keyId, different key: the cached record already proves the secret or the userId
      // segment wrong (a keyId's secrets are known), so no store read and no argon2.
      const limited = this.#limited(keyId, ip)
      if (limited !== null) return limited
      this.#charge(keyId, ip)
      this.#ipBudget.fail(ip)
      return { ok: false, error: 'KeyInvalid' }
    }
    this.#stats.cacheMisses++
    return this.#miss(parsed.key, digest, ip)
  }

  /**
   * 429 for a client address that spent its budget, on every key or on this keyId. A keyId that
   * failed from many addresses is not locked (its owner would be, by anyone who saw the keyId in
   * a log): it is verified in a slow lane, SLOW_LANE_PER_SECOND a second, see #takeSlowLane.
   */
  #limited (keyId: string, ip: string): AuthResult | null {
    const retryAfter = Math.max(this.#pairBudget.retryAfter(pairOf(keyId, ip)), this.#ipBudget.retryAfter(ip))
    if (retryAfter > 0) return { ok: false, error: 'RateLimited', retryAfter }
    if (this.#keyBudget.retryAfter(keyId) === 0) return null
    const lane = this.#slowLanes.get(keyId)
    if (lane === undefined || lane.available()) return null
    return { ok: false, error: 'RateLimited', retryAfter: lane.retryAfter() }
  }

  /** A verification in the keyId's slow lane, when its all-address budget is spent; false: none left this second. */
  #takeSlowLane (keyId: string): boolean {
    if (this.#keyBudget.retryAfter(keyId) === 0) return true
    let lane = this.#slowLanes.get(keyId)
    if (lane === undefined) {
      lane = new TokenBucket(SLOW_LANE_PER_SECOND, this.#clock)
      this.#slowLanes.set(ownCopy(keyId), lane)
    }
    return lane.tryTake()
  }

  /** An attempt on keyId that may fail, charged before the work; refunded when it succeeds. */
  #charge (keyId: string, ip: string): void {
    this.#pairBudget.fail(pairOf(keyId, ip))
    this.#keyBudget.fail(keyId)
  }

  #refund (keyId: string, ip: string): void {
    this.#pairBudget.refund(pairOf(keyId, ip))
    this.#keyBudget.refund(keyId)
  }

  #fromCache (entry: CachedKey, key: ParsedKey, digest: KeyDigest, secret: Secret, ip: string): AuthResult | Promise<AuthResult> {
    const now = this.#clock.now()
    // Expiry first and on every request: it needs no store and must never wait for revalidation.
    if (entry.expiresAt !== null && entry.expiresAt <= now) return { ok: false, error: 'KeyExpired' }
    const user = this.#cache.getUser(entry.userId)
    if (user !== undefined && this.#fresh(entry, now) && this.#fresh(user, now)) {
      if (!this.#health.failing) return evaluate(entry, user.user, now, 'cache', secret)
      // The store is failing: a fresh entry is served for the grace window like a stale one,
      // without waiting on the store. Past the window it is revalidated (a read that succeeds
      // ends the outage; one that fails answers 503).
      if (this.#withinGrace(now)) {
        this.#stats.graceServed++
        return evaluate(entry, user.user, now, 'grace', secret)
      }
    }
    return this.#revalidateCached(entry, key, digest, secret, ip)
  }

  #withinGrace (now: number): boolean {
    return now - this.#health.lastHealthyAt <= this.#graceMs
  }

  /** A cached key that is stale or whose owner state is: one store read, argon2 only if the record changed. */
  async #revalidateCached (entry: CachedKey, key: ParsedKey, digest: KeyDigest, secret: Secret, ip: string): Promise<AuthResult> {
    const verdict = await this.#revalidations.run(entry.keyId, () => this.#revalidate(entry, secret))
    if (verdict.ok || verdict.error !== 'Changed') return verdict
    // The record changed under the same keyId: verify it like a first use, reusing this read.
    return this.#verifications.run(digest, () => this.#verifyRecord(key, digest, verdict.found, ip, true, verdict.generation))
  }

  /** The owner's state to cache, keeping the id string of the state it replaces (see toUserState). */
  #ownerState (owner: User): UserState {
    return toUserState(owner, this.#cache.getUser(owner.id)?.user)
  }

  #fresh (entry: { checkedAt: number, epoch: number }, now: number): boolean {
    return !this.#cache.isStale(entry) && now - entry.checkedAt < this.#revalidateMs
  }

  /** The auth path's one store read, counted; `undefined` when the store is unavailable. */
  async #read (keyId: string): Promise<{ key: ApiKeyRecord, owner: User } | null | undefined> {
    this.#stats.storeReads++
    try {
      const found = await this.#store.getKeyWithOwner(keyId)
      this.#health.markHealthy()
      return found
    } catch {
      this.#stats.storeErrors++
      this.#health.markFailed()
      return undefined
    }
  }

  /** One cheap store read (no argon2): same record, same owner, owner's current state. */
  async #revalidate (entry: CachedKey, secret: Secret): Promise<Verdict> {
    this.#stats.revalidations++
    const generation = this.#cache.generation
    const found = await this.#read(entry.keyId)
    if (found === undefined) {
      const now = this.#clock.now()
      const user = this.#cache.getUser(entry.userId)
      // Grace: a known-good key keeps working for a bounded time after the last healthy store
      // contact; expiry was checked already and scope is checked by authorize as usual.
      if (user !== undefined && this.#withinGrace(now) && this.#cache.getKey(entry.keyId) === entry) {
        this.#stats.graceServed++
        return evaluate(entry, user.user, now, 'grace', secret)
      }
      return { ok: false, error: 'StoreUnavailable', retryAfter: STORE_RETRY_AFTER_S }
    }
    const now = this.#clock.now()
    if (found === null || found.key.userId !== entry.userId || found.owner.id !== entry.userId) {
      this.#cache.evictKey(entry.keyId)
      return { ok: false, error: 'KeyInvalid' }
    }
    if (keyFingerprint(found.key) !== entry.fingerprint) {
      // An invalidation during the read: whatever the verification finds is not cached.
      const raced = this.#cache.generation !== generation
      this.#cache.evictKey(entry.keyId)
      return { ok: false, error: 'Changed', found, generation: raced ? -1 : this.#cache.generation }
    }
    const user = this.#ownerState(found.owner)
    // An invalidation that arrived while we were reading wins: do not re-cache what it evicted.
    if (this.#cache.generation === generation) {
      entry.checkedAt = now
      entry.epoch = this.#cache.epoch
      this.#cache.setUser({ user, checkedAt: now, epoch: this.#cache.epoch })
    }
    return evaluate(entry, user, now, 'revalidated', secret)
  }

  async #miss (key: ParsedKey, digest: KeyDigest, ip: string): Promise<AuthResult> {
    const limited = this.#limited(key.keyId, ip)
    if (limited !== null) return limited
    if (this.#cache.hasFailed(digest, this.#clock.now())) {
      this.#ipBudget.fail(ip)
      return { ok: false, error: 'KeyInvalid' }
    }
    // Keyed by the digest (it covers the keyId): no slice of the raw key in the map, see CachedKey.
    const result = await this.#verifications.run(digest, () => this.#verify(key, digest, ip))
    if (!result.ok && result.error === 'KeyInvalid') this.#ipBudget.fail(ip)
    return result
  }

  async #verify (key: ParsedKey, digest: KeyDigest, ip: string): Promise<AuthResult> {
    // Noted before the read: an invalidation (a DELETE elsewhere) that lands while the read is in
    // flight bumps it, and what the read found is then used for this request only, never cached.
    const generation = this.#cache.generation
    const found = await this.#read(key.keyId)
    // A user's key is not "bad" because the store is down: 503, never 401.
    if (found === undefined) return { ok: false, error: 'StoreUnavailable', retryAfter: STORE_RETRY_AFTER_S }
    return this.#verifyRecord(key, digest, found, ip, false, generation)
  }

  /**
   * `proven`: this exact key was verified before (its cached record changed); not rate-limited.
   * `generation`: the cache's invalidation generation before `found` was read.
   */
  async #verifyRecord (key: ParsedKey, digest: KeyDigest, found: { key: ApiKeyRecord, owner: User } | null, ip: string, proven: boolean, generation: number): Promise<AuthResult> {
    const { userId, keyId } = key
    // Unknown keyId, or the userId segment is not the stored owner (a swapped userId): answered
    // from the store read alone, no hashing.
    if (found === null || found.key.userId !== userId || found.owner.id !== userId) {
      return this.#rejected(keyId, digest, ip)
    }
    // The keyId's budget is charged before hashing and refunded if the secret is right, checked
    // again here (after the store read) in the same tick: concurrent attempts then count each
    // other's verifications in flight, and the budget bounds the argon2 work per keyId exactly.
    const limited = this.#limited(keyId, ip)
    if (limited !== null) return limited
    if (!proven && !this.#takeSlowLane(keyId)) return { ok: false, error: 'RateLimited', retryAfter: 1 }
    if (!this.#limiter.tryAcquire()) return { ok: false, error: 'Overloaded', retryAfter: OVERLOADED_RETRY_AFTER_S }
    if (!proven && !this.#unprovenRate.tryTake()) {
      this.#limiter.release()
      return { ok: false, error: 'Overloaded', retryAfter: this.#unprovenRate.retryAfter() }
    }
    this.#charge(keyId, ip)
    // The current secret, else (a rotation's overlap) the previous one.
    const record = found.key
    const overlap = record.previousSecretHash !== undefined && record.previousUntil !== undefined && record.previousUntil > this.#clock.now()
    let secret: Secret | null = null
    const started = performance.now()
    try {
      this.#stats.argon2Verifications++
      if (await this.#argon2Verify(record.secretHash, key.secret)) secret = 'current'
      else if (overlap) {
        this.#stats.argon2Verifications++
        if (await this.#argon2Verify(record.previousSecretHash as string, key.secret)) secret = 'previous'
      }
    } finally {
      this.#limiter.release()
    }
    this.#onVerification?.((performance.now() - started) / 1000, secret !== null)
    if (secret === null) {
      this.#cache.rememberFailure(digest, this.#clock.now())
      return { ok: false, error: 'KeyInvalid' }
    }
    this.#refund(keyId, ip)
    const now = this.#clock.now()
    const user = this.#ownerState(found.owner)
    const fingerprint = keyFingerprint(record)
    // The other secret of the same record may be proved already: one entry holds both.
    const known = this.#cache.getKey(record.id)
    const entry = known !== undefined && known.fingerprint === fingerprint ? known : cachedEntry(record, user, fingerprint, now, this.#cache.epoch)
    if (secret === 'current') entry.digest = digest
    else entry.previousDigest = digest
    // Cached even when expired or the owner is disabled: later requests are then answered from
    // memory instead of paying argon2 again. Skipped if an invalidation raced the read.
    if (this.#cache.generation === generation) {
      this.#cache.setKey(entry)
      this.#cache.setUser({ user, checkedAt: now, epoch: this.#cache.epoch } satisfies CachedUser)
    }
    return evaluate(entry, user, now, 'verified', secret)
  }

  #rejected (keyId: string, digest: KeyDigest, ip: string): AuthResult {
    this.#charge(keyId, ip)
    this.#cache.rememberFailure(digest, this.#clock.now())
    return { ok: false, error: 'KeyInvalid' }
  }
}

function evaluate (entry: CachedKey, user: UserState, now: number, via: AuthVia, secret: Secret): AuthResult {
  if (entry.expiresAt !== null && entry.expiresAt <= now) return { ok: false, error: 'KeyExpired' }
  if (secret === 'previous' && (entry.previousUntil === null || entry.previousUntil <= now)) return { ok: false, error: 'KeyInvalid' }
  if (user.disabled) return { ok: false, error: 'OwnerDisabled' }
  // A rotated-out secret is valid until its overlap ends, and never past the key's expiry.
  const until = secret === 'previous' ? Math.min(entry.previousUntil as number, entry.expiresAt ?? Infinity) : entry.expiresAt
  return {
    ok: true,
    via,
    principal: {
      keyId: entry.keyId,
      userId: entry.userId,
      scope: entry.scope,
      scopes: entry.scopes,
      limits: entry.limits,
      expiresAt: until,
      secretGeneration: secret === 'previous' ? entry.secretGeneration - 1 : entry.secretGeneration,
      user
    }
  }
}

/** Which of a key's secrets a request used: the current one, or the one a rotation replaced. */
type Secret = 'current' | 'previous'

/** A key's scopes, deep-frozen: its lists are the identities compiled matchers are remembered by (tool-rules.ts). */
function frozenScopes (scopes: KeyScopes | null | undefined): KeyScopes | null {
  if (scopes === null || scopes === undefined) return null
  for (const rule of Object.values(scopes)) {
    for (const list of Object.values(rule)) Object.freeze(list)
    Object.freeze(rule)
  }
  return Object.freeze(scopes)
}

/**
 * A record's cache entry with no secret proved yet (the caller sets the digest it proved). keyId
 * and userId come from the record and the owner's state, never from a parsed key: those are slices
 * of the raw key and would pin the secret in the heap for as long as this is cached.
 */
function cachedEntry (record: ApiKeyRecord, user: UserState, fingerprint: string, now: number, epoch: number): CachedKey {
  const overlap = record.previousSecretHash !== undefined && record.previousUntil !== undefined && record.previousUntil > now
  return {
    keyId: record.id,
    digest: null,
    previousDigest: null,
    previousUntil: overlap ? record.previousUntil as number : null,
    secretGeneration: record.secretGeneration ?? 0,
    userId: user.id,
    scope: sharedScope(record.mcpServerIds),
    scopes: frozenScopes(record.scopes),
    limits: record.limits === undefined ? null : Object.freeze({ ...record.limits }),
    expiresAt: record.expiresAt,
    fingerprint,
    checkedAt: now,
    epoch
  }
}

/** The pair budget's subject (FailureBudget keeps its own copy of it). */
function pairOf (keyId: string, ip: string): string {
  return `${keyId} ${ip}`
}

/** A flat copy of an ASCII string: a keyId parsed from a request is a slice that would pin the whole key. */
function ownCopy (s: string): string {
  return Buffer.from(s, 'latin1').toString('latin1')
}

/**
 * The owner's state as cached. The id string of the state it replaces is kept, so every cached key
 * of one user shares a single copy of it (~32 bytes per key otherwise: each store read is a new string).
 */
function toUserState (u: User, previous?: UserState): UserState {
  const id = previous?.id === u.id ? previous.id : u.id
  return Object.freeze({ id, email: u.email, name: u.name, role: u.role, kind: u.kind, groups: [...u.groups], disabled: u.disabled })
}

const BEARER = /^Bearer[ \t]+([^ \t]+)[ \t]*$/i

/**
 * The key from `Authorization: Bearer …` or `X-API-Key` — never from the query string, where
 * it would end up in access logs and browser history. undefined = no key sent.
 */
export function extractKey (headers: FastifyRequest['headers'], bearer = bearerOf(headers.authorization)): string | undefined {
  if (bearer !== undefined && bearer.startsWith(KEY_START)) return bearer
  // A bearer that is no mcpgate key (a token the client sends for something else) does not hide
  // a key in X-API-Key; without one, it is still an attempt with a key (→ malformed).
  const apiKey = headers['x-api-key']
  if (typeof apiKey === 'string' && apiKey !== '') return apiKey.trim()
  if (Array.isArray(apiKey) && apiKey.length > 0) return apiKey.join(',')
  return bearer
}

const KEY_START = `${KEY_PREFIX}-`

function bearerOf (auth: string | undefined): string | undefined {
  if (typeof auth !== 'string' || auth === '') return undefined
  const m = BEARER.exec(auth)
  if (m !== null) return m[1]
  // A bearer with an odd shape is still an attempt with a key (→ malformed, invalid_token).
  if (/^bearer\b/i.test(auth)) return auth.slice(6).trim()
  return undefined
}

export function authenticationHook (authenticator: Authenticator, lastUsed: LastUsedRecorder, oauth: OAuthResource | null = null): onRequestHookHandler {
  function settle (request: FastifyRequest, reply: FastifyReply, result: AuthResult, done: HookHandlerDoneFunction): void {
    if (result.ok) {
      request.gate.authenticated(result.principal, result.via)
      lastUsed.touch(result.principal.keyId)
      done()
      return
    }
    if ('retryAfter' in result) reply.header('retry-after', String(result.retryAfter))
    done(result.error === 'RateLimited' ? new errors.RateLimited(FAILED_ATTEMPTS) : new errors[result.error]())
  }
  /** OAuth mode: the token checked for this endpoint, then the key record it names, as a key's. */
  function authenticateToken (request: FastifyRequest, reply: FastifyReply, token: string, oauth: OAuthResource, done: HookHandlerDoneFunction): void {
    request.gate.tokenPresented()
    const params = request.params as { serverId?: string } | undefined
    // Only an MCP endpoint is a resource; /api/me takes keys alone.
    const serverId = typeof params?.serverId === 'string' ? params.serverId : null
    if (serverId === null) {
      settle(request, reply, { ok: false, error: 'KeyInvalid' }, done)
      return
    }
    const onVerdict = (verdict: TokenVerdict): void => {
      if (!verdict.ok) {
        settle(request, reply, verdict, done)
        return
      }
      const result = authenticator.authenticateToken(verdict.keyId)
      if (result instanceof Promise) result.then(r => { settle(request, reply, r, done) }, done)
      else settle(request, reply, result, done)
    }
    const verdict = oauth.check(token, endpointUrl(oauth.base(request), serverId))
    if (verdict instanceof Promise) verdict.then(onVerdict, done)
    else onVerdict(verdict)
  }

  return function authenticate (request, reply, done) {
    // The Authorization header is parsed once: a token (OAuth mode) or the key's first source.
    const bearer = bearerOf(request.headers.authorization)
    if (oauth !== null && bearer !== undefined && request.headers['x-api-key'] === undefined && !bearer.startsWith(KEY_START) && isJwtShaped(bearer)) {
      authenticateToken(request, reply, bearer, oauth, done)
      return
    }
    // The key is read from the headers and parsed here, once; the record keeps what the access
    // line and the error answer need of it.
    const raw = extractKey(request.headers, bearer)
    const parsed = raw === undefined ? null : parseKey(raw)
    request.gate.keyPresented(raw !== undefined, parsed !== null && parsed.ok ? parsed.key.keyId : null)
    const result = authenticator.authenticate(raw, request.gate.ip, parsed)
    // Most requests (a fresh cached key) are answered in this tick, without a promise.
    if (result instanceof Promise) result.then(r => { settle(request, reply, r, done) }, done)
    else settle(request, reply, result, done)
  }
}
