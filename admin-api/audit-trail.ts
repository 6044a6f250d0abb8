// Reading the gateway's audit trail (core/audit.ts; written by gateway/audit.ts): admins see every
// event, users the events of their own keys only — a request naming another user's key or user
// gets nothing of theirs (the same answer as a key with no events, or 404 for usage, as for a
// missing key). A key's usage: calls per hour and day over the last 30 days, top tools, last use.
import { DAY_MS, type AuditEvent, type AuditQuery, type KeyUsage } from '../core/audit.ts'
import type { Clock } from '../core/clock.ts'
import { errors } from '../core/errors.ts'
import { limitStatus, type LimitsConfig } from '../core/limits.ts'
import type { KeyStore } from '../core/store/store.ts'
import { parseRfc3339 } from './key-service.ts'
import type { Principal } from './principal.ts'
import { PAGE_LIMIT_DEFAULT, type AuditEventView, type KeyUsageView, type Page } from './schemas.ts'

/** The window a key's usage covers. */
export const USAGE_DAYS = 30

export interface AuditQueryInput {
  limit?: number
  cursor?: string
  keyId?: string
  userId?: string
  serverId?: string
  name?: string
  outcome?: AuditEvent['outcome']
  since?: string
  until?: string
}

function iso (ms: number): string {
  return new Date(ms).toISOString()
}

export function auditEventView (e: AuditEvent): AuditEventView {
  const { time, id, ...rest } = e
  return { ...rest, id: id ?? '', time: iso(time) }
}

function time (value: string | undefined, field: string): number | undefined {
  if (value === undefined) return undefined
  const ms = parseRfc3339(value)
  if (ms === null) throw new errors.ValidationFailed(`${field}: must be an RFC 3339 date-time`)
  return ms
}

export function createAuditTrail ({ store, clock, limits }: { store: KeyStore, clock: Clock, limits: LimitsConfig }) {
  /** The ids of every key the user holds now (at most admin.maxKeysPerUser pages of them). */
  async function keysOf (userId: string): Promise<string[]> {
    const ids: string[] = []
    let cursor: string | null = null
    for (let pages = 0; pages < 100; pages++) {
      const page = await store.listKeys({ userId, limit: 100, cursor })
      ids.push(...page.items.map(k => k.id))
      cursor = page.nextCursor
      if (cursor === null) break
    }
    return ids
  }

  async function listEvents (principal: Principal, input: AuditQueryInput): Promise<Page<AuditEventView>> {
    const query: AuditQuery = {
      limit: input.limit ?? PAGE_LIMIT_DEFAULT,
      ...(input.cursor === undefined ? {} : { cursor: input.cursor }),
      ...(input.keyId === undefined ? {} : { keyId: input.keyId }),
      ...(input.serverId === undefined ? {} : { serverId: input.serverId }),
      ...(input.name === undefined ? {} : { name: input.name }),
      ...(input.outcome === undefined ? {} : { outcome: input.outcome })
    }
    const since = time(input.since, 'since')
    const until = time(input.until, 'until')
    if (since !== undefined) query.since = since
    if (until !== undefined) query.until = until
    if (principal.role === 'admin') {
      if (input.userId !== undefined) query.userId = input.userId
    } else {
      // A user: their own keys' events, whatever else was asked.
      const own = principal.user === null ? [] : await keysOf(principal.user.id)
      if (input.userId !== undefined && input.userId !== principal.user?.id) return { items: [], nextCursor: null }
      if (input.keyId !== undefined && !own.includes(input.keyId)) return { items: [], nextCursor: null }
      query.keyIds = own
    }
    let page
    try {
      page = await store.listAudit(query)
    } catch (err) {
      if (err instanceof TypeError) throw new errors.ValidationFailed('cursor: pass back the nextCursor of a previous page')
      throw err
    }
    return { items: page.items.map(auditEventView), nextCursor: page.nextCursor }
  }

  /** A key's usage; `ownerId`: the key must be theirs (another's answers 404, like a missing one). */
  async function keyUsage (keyId: string, opts: { ownerId?: string } = {}): Promise<KeyUsageView> {
    const key = await store.getKey(keyId)
    if (key === null || (opts.ownerId !== undefined && key.userId !== opts.ownerId)) throw new errors.ApiKeyNotFound(keyId)
    const until = clock.now()
    const since = until - USAGE_DAYS * DAY_MS
    const u: KeyUsage = await store.keyUsage(keyId, since, until)
    const status = await limitStatus(store, { keyId, userId: key.userId, limits: key.limits ?? null }, limits, until)
    const bucket = (b: KeyUsage['hourly'][number]) => ({ ...b, start: iso(b.start) })
    return {
      since: iso(since),
      hourly: u.hourly.map(bucket),
      daily: u.daily.map(bucket),
      topTools: u.topTools,
      lastUsed: u.lastUsed === null ? null : { ...u.lastUsed, time: iso(u.lastUsed.time) },
      limits: status
    }
  }

  return { listEvents, keyUsage }
}

export type AuditTrail = ReturnType<typeof createAuditTrail>
