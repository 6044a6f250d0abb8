// Rate limits and tool-call quotas (core/limits.ts) on the request path, shared by every replica
// without a store round trip per request: a replica leases tokens from the store's counter of a
// window (atomically: the leases of all replicas never add up to more than the limit) and spends
// them locally; it asks for more when its lease runs out, and learns that the window is spent when
// a lease comes back empty. Exact on one replica; across replicas, what other replicas leased and
// did not spend goes unused (never more than a lease each: an undershoot, never an overshoot).
// When the store cannot be reached, each replica enforces its share (limit ÷ replicas seen) alone,
// and says so in a metric. A key and owner without limits cost one property read.
import type { FastifyBaseLogger, FastifyReply, HookHandlerDoneFunction, preHandlerHookHandler } from 'fastify'
import type { Config } from '../config/schema.ts'
import type { Clock } from '../core/clock.ts'
import { errors } from '../core/errors.ts'
import { randomBase62 } from '../core/key-format.ts'
import { counterOf, limitsOf, limitStatus, windowMs, windowStart, type AppliedLimit, type LimitKind, type LimitStatus } from '../core/limits.ts'
import type { KeyStore } from '../core/store/store.ts'
import type { Principal } from './auth.ts'

/** How long a replica counts as alive after it last announced itself. */
const REPLICA_TTL_MS = 30_000
const ANNOUNCE_EVERY_MS = 10_000

/** A refusal: which limit, and when its window ends. */
export interface LimitRefusal {
  /** `key` or `user`: whose allowance is spent. */
  scope: 'key' | 'user'
  kind: LimitKind
  limit: number
  /** Seconds until the window ends (at least 1). */
  retryAfter: number
  /** Epoch ms when the window ends. */
  resetAt: number
}

interface Lease {
  window: number
  /** Tokens leased from the store and not spent yet. */
  tokens: number
  /** The store said the window is spent. */
  spent: boolean
  /** Spent on this replica alone while the store could not be reached. */
  local: number
  pending: Promise<void> | null
}

export interface LimiterOptions {
  store: KeyStore
  clock: Clock
  config: Readonly<Config['gateway']['limits']>
  log: FastifyBaseLogger
}

export class Limiter {
  readonly #options: LimiterOptions
  readonly #leases = new Map<string, Lease>()
  readonly #replicaId = randomBase62(12)
  #replicas = 1
  #timer: NodeJS.Timeout | undefined
  #running = false
  /** Requests decided without the store (it could not be reached): the metric of the degraded mode. */
  degraded = 0
  #degradedLogged = false

  constructor (options: LimiterOptions) {
    this.#options = options
  }

  /** True when any key or user may be limited (config defaults or a key's own): see `applies`. */
  get configured (): boolean {
    const { perKey, perUser } = this.#options.config
    return Object.keys(perKey).length > 0 || Object.keys(perUser).length > 0
  }

  /** The limits of `kind` this principal is under: its key's, its owner's total. */
  #limitsOf (principal: Principal, kind: LimitKind): AppliedLimit[] {
    return limitsOf(principal, this.#options.config, kind)
  }

  /** The principal has a limit of this kind (its tool calls must be counted, so its POSTs read). */
  applies (principal: Principal, kind: LimitKind): boolean {
    if (principal.limits === null && !this.configured) return false
    return this.#limitsOf(principal, kind).length > 0
  }

  /** Replicas this one saw alive at its last announcement (an outage's share is limit ÷ this). */
  get replicas (): number { return this.#replicas }

  /** The principal's limits now: each with what is left of its window (read from the store). */
  async status (principal: Principal): Promise<LimitStatus[]> {
    return limitStatus(this.#options.store, principal, this.#options.config, this.#options.clock.now())
  }

  /** Tells the store this replica is alive and learns how many are (every ANNOUNCE_EVERY_MS). */
  async announce (): Promise<void> {
    try {
      this.#replicas = Math.max(1, await this.#options.store.announceReplica(this.#replicaId, this.#options.clock.now(), REPLICA_TTL_MS))
    } catch {
      // The store is down: the last count stands.
    }
  }

  /**
   * Starts announcing this replica: at once when config sets limits, else at the first limited
   * key seen (a gateway without limits sends the store nothing for them).
   */
  start (): void {
    this.#running = true
    if (this.configured) this.#announceEvery()
  }

  stop (): void {
    this.#running = false
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
  }

  #announceEvery (): void {
    if (this.#timer !== undefined || !this.#running) return
    this.announce().catch(() => {})
    this.#timer = setInterval(() => { this.announce().catch(() => {}) }, ANNOUNCE_EVERY_MS).unref()
  }

  /**
   * Takes `n` units of `kind` for the principal: how many it may have (all of them, fewer, or 0
   * with the refusal of the first limit that stopped it). Synchronous while leases last.
   */
  take (principal: Principal, kind: LimitKind, n = 1): { granted: number, refusal: LimitRefusal | null } | Promise<{ granted: number, refusal: LimitRefusal | null }> {
    const limits = this.#limitsOf(principal, kind)
    if (limits.length === 0) return { granted: n, refusal: null }
    if (this.#timer === undefined) this.#announceEvery()
    const now = this.#options.clock.now()
    const window = windowStart(kind, now)
    const resetAt = window + windowMs(kind)
    let granted = n
    let refusal: LimitRefusal | null = null
    const steps = limits.map(l => () => this.#take(counterOf(l.subject, kind, window), l.limit, granted, window, resetAt))
    // Each limit grants what the one before it granted at most; the first to cut names the refusal.
    const finish = (index: number, got: number): void => {
      if (got < granted && refusal === null) {
        const l = limits[index] as (typeof limits)[number]
        refusal = { scope: l.scope, kind, limit: l.limit, resetAt, retryAfter: Math.max(1, Math.ceil((resetAt - now) / 1000)) }
      }
      granted = got
    }
    let i = 0
    const run = (): { granted: number, refusal: LimitRefusal | null } | Promise<{ granted: number, refusal: LimitRefusal | null }> => {
      while (i < steps.length) {
        const index = i++
        const got = (steps[index] as () => number | Promise<number>)()
        if (got instanceof Promise) return got.then(g => { finish(index, g); return run() })
        finish(index, got)
      }
      return { granted, refusal }
    }
    return run()
  }

  /** Up to `want` tokens of one counter: from the lease, else a new lease (single-flight per counter). */
  #take (bucket: string, limit: number, want: number, window: number, resetAt: number): number | Promise<number> {
    if (want === 0) return 0
    let lease = this.#leases.get(bucket)
    if (lease === undefined || lease.window !== window) {
      lease = { window, tokens: 0, spent: false, local: 0, pending: null }
      this.#leases.set(bucket, lease)
      this.#prune(window)
    }
    const l = lease
    const spend = (): number => {
      const got = Math.min(want, l.tokens)
      l.tokens -= got
      return got
    }
    if (l.tokens >= want || l.spent) return spend()
    l.pending ??= this.#lease(bucket, l, limit, Math.max(want - l.tokens, leaseSize(limit)), resetAt).finally(() => { l.pending = null })
    return l.pending.then(() => {
      if (l.tokens >= want || l.spent) return spend()
      // Another caller spent the new lease first: one more round.
      return this.#take(bucket, limit, want, window, resetAt)
    })
  }

  async #lease (bucket: string, lease: Lease, limit: number, want: number, resetAt: number): Promise<void> {
    try {
      const granted = await this.#options.store.takeTokens(bucket, limit, want, resetAt)
      lease.tokens += granted
      if (granted < want) lease.spent = true
      this.#degradedLogged = false
    } catch {
      // The store is unreachable: this replica's share of the limit, counted here alone.
      const share = Math.max(1, Math.floor(limit / this.#replicas))
      const got = Math.max(0, Math.min(want, share - lease.local))
      lease.local += got
      lease.tokens += got
      if (got < want) lease.spent = true
      this.degraded++
      if (!this.#degradedLogged) {
        this.#degradedLogged = true
        this.#options.log.warn({ replicas: this.#replicas }, 'rate limits: the store cannot be reached; each replica enforces its share (limit ÷ replicas seen) alone')
      }
    }
  }

  /** Drops the leases of windows that are over. */
  #prune (window: number): void {
    if (this.#leases.size < 10_000) return
    for (const [bucket, lease] of this.#leases) if (lease.window < window && lease.pending === null) this.#leases.delete(bucket)
  }
}

/** Tokens a replica takes at once: a twentieth of the limit (at least 1, at most 100). */
function leaseSize (limit: number): number {
  return Math.max(1, Math.min(100, Math.floor(limit / 20)))
}

/** The IETF RateLimit-Policy and RateLimit fields of a refusal (draft-ietf-httpapi-ratelimit-headers). */
export function rateLimitHeaders (r: LimitRefusal): Record<string, string> {
  const policy = `${r.scope}-${r.kind === 'requests' ? 'minute' : 'day'}`
  return {
    'ratelimit-policy': `"${policy}";q=${r.limit};w=${Math.round(windowMs(r.kind) / 1000)}`,
    ratelimit: `"${policy}";r=0;t=${r.retryAfter}`,
    'retry-after': String(r.retryAfter)
  }
}

/** What a refused request says: whose limit and when it resets. */
export function refusalText (r: LimitRefusal): string {
  const whose = r.scope === 'key' ? 'this API key' : 'the key\'s owner (all of their keys)'
  const what = r.kind === 'requests' ? `${r.limit} requests a minute` : `${r.limit} tool calls a day`
  return `the limit of ${what} for ${whose} is reached; it resets at ${new Date(r.resetAt).toISOString()}`
}

/**
 * preHandler after authorization: one request of the principal's requests-per-minute limits; over
 * → 429 MCPGATE_RATE_LIMITED with Retry-After and the RateLimit fields.
 */
export function requestLimitHook (limiter: Limiter): preHandlerHookHandler {
  function settle (reply: FastifyReply, r: { refusal: LimitRefusal | null }, done: HookHandlerDoneFunction): void {
    if (r.refusal === null) {
      done()
      return
    }
    reply.headers(rateLimitHeaders(r.refusal))
    done(new errors.RateLimited(refusalText(r.refusal)))
  }
  return function limitRequests (request, reply, done) {
    const principal = request.gate.principal
    if (principal === null || !limiter.applies(principal, 'requests')) {
      done()
      return
    }
    const r = limiter.take(principal, 'requests')
    if (r instanceof Promise) r.then(x => { settle(reply, x, done) }, done)
    else settle(reply, r, done)
  }
}
