// Request rate limits and tool-call quotas (DESIGN: "Lifecycle"): a key's own `limits`, the
// config's defaults for keys without (gateway.limits.perKey) and per-user totals across all of a
// user's keys (gateway.limits.perUser), so minting more keys does not multiply an allowance.
// Counted in fixed windows — a minute for requests, a UTC day for tool calls — shared by every
// replica through the store. Pure definitions here; the gateway's limiter is gateway/limits.ts.

export interface RateLimits {
  requestsPerMinute?: number
  toolCallsPerDay?: number
}

export type LimitKind = 'requests' | 'toolCalls'

export const MINUTE_MS = 60_000
export const DAY_MS = 86_400_000

/** The largest limit a key may set (a bound on the counters, not a promise of capacity). */
export const MAX_LIMIT = 100_000_000

export function windowMs (kind: LimitKind): number {
  return kind === 'requests' ? MINUTE_MS : DAY_MS
}

/** The start of the window `now` falls in (UTC minutes and days). */
export function windowStart (kind: LimitKind, now: number): number {
  const w = windowMs(kind)
  return Math.floor(now / w) * w
}

/** A problem with a key's `limits` field (the field's name and what is wrong), or null. */
export function limitsProblem (value: unknown): { field: string, problem: string } | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { field: 'limits', problem: 'must be an object' }
  for (const [name, v] of Object.entries(value)) {
    if (name !== 'requestsPerMinute' && name !== 'toolCallsPerDay') return { field: `limits.${name}`, problem: 'unknown field (requestsPerMinute, toolCallsPerDay)' }
    if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > MAX_LIMIT) return { field: `limits.${name}`, problem: `must be an integer from 1 to ${MAX_LIMIT}` }
  }
  return null
}

/** The limit of `kind` a key has: its own, else the config's default for keys; undefined: none. */
export function keyLimit (own: RateLimits | null | undefined, defaults: RateLimits, kind: LimitKind): number | undefined {
  const field = kind === 'requests' ? 'requestsPerMinute' : 'toolCallsPerDay'
  return own?.[field] ?? defaults[field]
}

export function userLimit (perUser: RateLimits, kind: LimitKind): number | undefined {
  return perUser[kind === 'requests' ? 'requestsPerMinute' : 'toolCallsPerDay']
}
