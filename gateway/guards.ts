// Guards that run before any argon2 work: failure budgets (per keyId, per client IP), a cap on
// concurrent verifications, a global rate of verifications and single-flight for concurrent
// misses of the same key. Argon2 costs
// ~20 ms of CPU, so without these a flood of wrong secrets would starve valid traffic.
import { LRUCache } from 'lru-cache'
import type { Clock } from '../core/clock.ts'

interface Window {
  start: number
  failures: number
}

/** Fixed-window failure counter per subject; bounded by count so a key-id spray cannot grow it. */
export class FailureBudget {
  readonly #windows: LRUCache<string, Window>

  constructor (
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly clock: Clock,
    maxSubjects = 50000
  ) {
    this.#windows = new LRUCache<string, Window>({ max: maxSubjects })
  }

  #current (subject: string): Window | undefined {
    const w = this.#windows.get(subject)
    if (w === undefined) return undefined
    if (this.clock.now() - w.start >= this.windowMs) {
      this.#windows.delete(subject)
      return undefined
    }
    return w
  }

  /** Seconds until the subject may try again, or 0 when it is within budget. */
  retryAfter (subject: string): number {
    const w = this.#current(subject)
    if (w === undefined || w.failures < this.limit) return 0
    return Math.max(1, Math.ceil((w.start + this.windowMs - this.clock.now()) / 1000))
  }

  fail (subject: string): void {
    const w = this.#current(subject)
    // A copy of the subject, not the caller's string: a keyId parsed from a request is a V8 sliced
    // string that would keep the whole raw key (secret included) alive while the window lives.
    if (w === undefined) this.#windows.set(ownCopy(subject), { start: this.clock.now(), failures: 1 })
    else w.failures++
  }

  /**
   * Takes back a failure charged in advance (the attempt it stood for succeeded). A window back
   * at zero is dropped: every first use of a valid key is charged and refunded, and keeping its
   * empty window would cost ~100 bytes per verified key until the LRU pushed it out.
   */
  refund (subject: string): void {
    const w = this.#current(subject)
    if (w === undefined) return
    if (w.failures > 1) w.failures--
    else this.#windows.delete(subject)
  }
}

/** A flat string that shares no memory with `s` (subjects are ASCII: keyIds and IP addresses). */
function ownCopy (s: string): string {
  return Buffer.from(s, 'latin1').toString('latin1')
}

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
