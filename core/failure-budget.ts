// A fixed-window failure counter per subject (a keyId, a client IP), shared by the gateway's
// key guards and the admin API's authentication: once a subject has failed `limit` times in a
// window, callers answer 429 with Retry-After until the window ends.
import { LRUCache } from 'lru-cache'
import type { Clock } from './clock.ts'

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
