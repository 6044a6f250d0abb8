// Request rate limits and tool-call quotas (DESIGN: "Lifecycle"): a key's own `limits`, the
// config's defaults for keys without (gateway.limits.perKey) and per-user totals across all of a
// user's keys (gateway.limits.perUser), so minting more keys does not multiply an allowance.
// Counted in fixed windows — a minute for requests, a UTC day for tool calls — shared by every
// replica through the store. Definitions here (and the read of what is left, shared by the
// gateway's GET /api/me and the admin API's key usage); the gateway's limiter is gateway/limits.ts.
import type { KeyStore } from './store/store.ts'

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

/** The config's part: gateway.limits. */
export interface LimitsConfig {
  perKey: RateLimits
  perUser: RateLimits
}

/** Whose allowance a limit is: a key's own (or the default for keys), or its owner's total. */
export interface LimitsSubject {
  /** Absent: the owner's totals only (a user's own view, no key in hand). */
  keyId?: string
  userId: string
  /** The key's own limits (null or absent: the config's defaults). */
  limits?: RateLimits | null
}

export interface AppliedLimit {
  scope: 'key' | 'user'
  /** The counter's name prefix: `k:<keyId>` or `u:<userId>`. */
  subject: string
  limit: number
}

/** The limits of `kind` a key is under: its own (or the default), then its owner's total. */
export function limitsOf (who: LimitsSubject, config: LimitsConfig, kind: LimitKind): AppliedLimit[] {
  const out: AppliedLimit[] = []
  const k = who.keyId === undefined ? undefined : keyLimit(who.limits, config.perKey, kind)
  if (k !== undefined) out.push({ scope: 'key', subject: `k:${who.keyId}`, limit: k })
  const u = userLimit(config.perUser, kind)
  if (u !== undefined) out.push({ scope: 'user', subject: `u:${who.userId}`, limit: u })
  return out
}

/** The store's counter of one limit in one window. */
export function counterOf (subject: string, kind: LimitKind, window: number): string {
  return `${subject}:${kind}:${window}`
}

export interface LimitStatus {
  scope: 'key' | 'user'
  kind: LimitKind
  limit: number
  /**
   * What is left of the window, as the store counts it: tokens a replica leased and has not spent
   * yet count as used (at most a lease per replica), so this never shows more than is left.
   */
  remaining: number
  /** RFC 3339: when the window ends. */
  resetAt: string
}

/** Every limit of the key and its owner now, with what is left ([] when none); one store read. */
export async function limitStatus (store: Pick<KeyStore, 'tokensUsed'>, who: LimitsSubject, config: LimitsConfig, now: number): Promise<LimitStatus[]> {
  const rows = (['requests', 'toolCalls'] as const).flatMap(kind => limitsOf(who, config, kind).map(l => {
    const window = windowStart(kind, now)
    return { ...l, kind, counter: counterOf(l.subject, kind, window), resetAt: window + windowMs(kind) }
  }))
  if (rows.length === 0) return []
  const used = await store.tokensUsed(rows.map(r => r.counter))
  return rows.map((r, i) => ({ scope: r.scope, kind: r.kind, limit: r.limit, remaining: Math.max(0, r.limit - (used[i] ?? 0)), resetAt: new Date(r.resetAt).toISOString() }))
}
