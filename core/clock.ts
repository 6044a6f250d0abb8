// The clock seam: production uses wall time, tests inject a manual clock instead of sleeping.
// `at` runs a callback when the clock reaches a time (a key's expiry ends its open streams):
// on the wall clock a timer, on the manual clock when a test advances it past that time.
export interface Clock {
  now(): number
  /** Calls `fn` once the clock reads `when` or later; returns a function that cancels it. */
  at?(when: number, fn: () => void): () => void
}

/** setTimeout's longest delay (~24.8 days); a later time is reached in steps. */
const MAX_DELAY_MS = 2 ** 31 - 1

function wallAt (now: () => number, when: number, fn: () => void): () => void {
  let timer: NodeJS.Timeout | undefined
  const arm = (): void => {
    const delay = when - now()
    if (delay <= 0) {
      timer = undefined
      fn()
      return
    }
    // unref: a pending expiry never keeps the process alive.
    timer = setTimeout(arm, Math.min(delay, MAX_DELAY_MS)).unref()
  }
  arm()
  return () => { if (timer !== undefined) clearTimeout(timer) }
}

export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  at: (when: number, fn: () => void) => wallAt(Date.now, when, fn)
})

/** `clock.at`, or a wall-clock timer measured on `clock` for clocks that have none. */
export function scheduleAt (clock: Clock, when: number, fn: () => void): () => void {
  if (clock.at !== undefined) return clock.at(when, fn)
  return wallAt(() => clock.now(), when, fn)
}

export class ManualClock implements Clock {
  readonly #timers = new Set<{ when: number, fn: () => void }>()
  constructor (private current = Date.parse('2026-01-01T00:00:00Z')) {}
  now (): number { return this.current }
  advance (ms: number): void { this.set(this.current + ms) }
  set (ms: number): void {
    this.current = ms
    // In time order; a callback may add or cancel others.
    for (;;) {
      let next: { when: number, fn: () => void } | undefined
      for (const t of this.#timers) if (t.when <= this.current && (next === undefined || t.when < next.when)) next = t
      if (next === undefined) return
      this.#timers.delete(next)
      next.fn()
    }
  }

  at (when: number, fn: () => void): () => void {
    const timer = { when, fn }
    if (when <= this.current) {
      // Already due: on the next tick, like a zero-delay timer, never inside the caller.
      queueMicrotask(() => { if (this.#timers.delete(timer)) fn() })
    }
    this.#timers.add(timer)
    return () => { this.#timers.delete(timer) }
  }
}
