// Guards that run before any argon2 work: a cap on concurrent verifications, a global rate of
// verifications and single-flight for concurrent misses of the same key (the failure budgets per
// keyId and per client IP are core/failure-budget.ts, shared with the admin API). Argon2 costs
// ~20 ms of CPU, so without these a flood of wrong secrets would starve valid traffic.
import type { Clock } from './clock.ts'

/** Non-blocking semaphore: a request that cannot start a verification now is answered 503. */
export class VerificationLimiter {
  #inFlight = 0
  constructor (private readonly max: number) {}

  get inFlight (): number { return this.#inFlight }

  tryAcquire (): boolean {
    if (this.#inFlight >= this.max) return false
    this.#inFlight++
    return true
  }

  release (): void {
    this.#inFlight--
  }
}

/**
 * Token bucket on the injected clock: `perSecond` tokens a second, at most one second's worth
 * banked. Bounds the argon2 work that keys not yet proven can cause, whatever their source
 * addresses: the per-IP budget alone lets a botnet of N addresses buy N × failuresPerIp hashes.
 */
export class TokenBucket {
  #tokens: number
  #at: number

  constructor (private readonly perSecond: number, private readonly clock: Clock) {
    this.#tokens = perSecond
    this.#at = clock.now()
  }

  #refill (): void {
    const now = this.clock.now()
    if (now > this.#at) this.#tokens = Math.min(this.perSecond, this.#tokens + (now - this.#at) * this.perSecond / 1000)
    this.#at = now
  }

  /** A token is there now (nothing taken). */
  available (): boolean {
    this.#refill()
    return this.#tokens >= 1
  }

  tryTake (): boolean {
    this.#refill()
    if (this.#tokens < 1) return false
    this.#tokens--
    return true
  }

  /** Whole seconds until a token is available (at least 1: Retry-After has second resolution). */
  retryAfter (): number {
    this.#refill()
    return Math.max(1, Math.ceil((1 - this.#tokens) / this.perSecond))
  }
}

/** Concurrent callers with the same key share one in-flight promise. */
export class SingleFlight<T> {
  readonly #inFlight = new Map<string, Promise<T>>()

  get size (): number { return this.#inFlight.size }

  run (key: string, work: () => Promise<T>): Promise<T> {
    const existing = this.#inFlight.get(key)
    if (existing !== undefined) return existing
    const p = work().finally(() => this.#inFlight.delete(key))
    this.#inFlight.set(key, p)
    return p
  }
}
