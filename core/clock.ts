// The clock seam: production uses wall time, tests inject a manual clock instead of sleeping.
export interface Clock {
  now(): number
}

export const systemClock: Clock = Object.freeze({ now: () => Date.now() })

export class ManualClock implements Clock {
  constructor (private current = Date.parse('2026-01-01T00:00:00Z')) {}
  now (): number { return this.current }
  advance (ms: number): void { this.current += ms }
  set (ms: number): void { this.current = ms }
}
