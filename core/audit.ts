// The audit trail (DESIGN: "Audit"): one event per MCP request (per JSON-RPC message of a batch) and
// per refusal, written by the gateway in batches off the request path, kept by the store (a Redis
// Stream / an SQLite table) for `audit.retentionDays`, read by the admin API. Never a secret: no
// key, no session id (a digest of it), arguments only when a server opts in.

import { jsonString } from './json-text.ts'

export type AuditOutcome = 'allowed' | 'denied' | 'error'

export interface AuditEvent {
  /** Store-assigned, ordered: the cursor of the pages (absent before it is stored). */
  id?: string
  /** Epoch ms. */
  time: number
  requestId: string
  /** The key the request was made with — accepted, or only claimed by a refused one. */
  keyId: string | null
  /** The owner, when the key was accepted. */
  userId: string | null
  /** Which of the key's secrets was used: its generation (0 until the first rotation); with the owner. */
  secretGeneration?: number
  serverId: string | null
  /** The JSON-RPC method, or `http:GET` / `http:DELETE` for a stream or a session's end; `unknown` when the body was not read. */
  method: string
  /** The tool or prompt name, or the resource URI. */
  name?: string
  outcome: AuditOutcome
  /** The MCPGATE_* code of a refusal or failure. */
  code?: string
  status: number
  durationMs: number
  bytesIn: number
  bytesOut: number
  /** A digest of the MCP session id (16 hex characters), never the id. */
  session?: string
  ip: string
  userAgent?: string
  /** Tool arguments, redacted, only for servers with `audit.arguments: true`. */
  arguments?: unknown
}

export interface AuditQuery {
  limit: number
  /** The `nextCursor` of the previous page. */
  cursor?: string | null
  keyId?: string
  /** Any of these keys (a user's own events). */
  keyIds?: readonly string[]
  userId?: string
  serverId?: string
  name?: string
  outcome?: AuditOutcome
  /** Epoch ms, inclusive. */
  since?: number
  /** Epoch ms, exclusive. */
  until?: number
}

export interface AuditPage {
  items: AuditEvent[]
  /** null on the last page. A page may be short (a bounded scan) and still have a next one. */
  nextCursor: string | null
}

export interface UsageBucket {
  /** Start of the hour or day (epoch ms, UTC). */
  start: number
  calls: number
  denied: number
  errors: number
}

export interface KeyUsage {
  hourly: UsageBucket[]
  daily: UsageBucket[]
  topTools: Array<{ name: string, calls: number }>
  lastUsed: { time: number, ip: string, userAgent: string | null } | null
}

export const HOUR_MS = 3_600_000
export const DAY_MS = 86_400_000

/** Events a page may scan before it answers (a short page with a cursor when filters are narrow). */
export const AUDIT_SCAN_BUDGET = 5000

export function matchesQuery (e: AuditEvent, q: AuditQuery): boolean {
  if (q.keyId !== undefined && e.keyId !== q.keyId) return false
  if (q.keyIds !== undefined && (e.keyId === null || !q.keyIds.includes(e.keyId))) return false
  if (q.userId !== undefined && e.userId !== q.userId) return false
  if (q.serverId !== undefined && e.serverId !== q.serverId) return false
  if (q.name !== undefined && e.name !== q.name) return false
  if (q.outcome !== undefined && e.outcome !== q.outcome) return false
  if (q.since !== undefined && e.time < q.since) return false
  if (q.until !== undefined && e.time >= q.until) return false
  return true
}

/** Hourly and daily buckets from per-hour counts (both stores keep counts per key and hour). */
export function bucketsFrom (hours: Map<number, { calls: number, denied: number, errors: number }>, since: number, until: number): { hourly: UsageBucket[], daily: UsageBucket[] } {
  const hourly: UsageBucket[] = []
  const days = new Map<number, UsageBucket>()
  for (let h = Math.floor(since / HOUR_MS) * HOUR_MS; h < until; h += HOUR_MS) {
    const c = hours.get(h) ?? { calls: 0, denied: 0, errors: 0 }
    hourly.push({ start: h, ...c })
    const d = Math.floor(h / DAY_MS) * DAY_MS
    const day = days.get(d) ?? { start: d, calls: 0, denied: 0, errors: 0 }
    day.calls += c.calls
    day.denied += c.denied
    day.errors += c.errors
    days.set(d, day)
  }
  return { hourly, daily: [...days.values()] }
}

/** The fields SQLite keeps in columns of their own (its `event` JSON holds the others). */
export type AuditColumns = 'id' | 'time' | 'keyId' | 'userId' | 'serverId' | 'method' | 'name' | 'outcome'

/**
 * An event as JSON text (its `id` left out), built by hand: one is written per request, and
 * JSON.stringify of the object cost about three times as much (bench/README.md, "Round 13").
 * `restOnly`: without the fields SQLite keeps in columns. Absent fields are left out, as
 * JSON.stringify leaves out undefined ones.
 */
export function auditJson (e: AuditEvent, restOnly = false): string {
  let json = `{"requestId":${jsonString(e.requestId)}`
  if (!restOnly) {
    json += `,"time":${e.time},"keyId":${e.keyId === null ? 'null' : jsonString(e.keyId)},"userId":${e.userId === null ? 'null' : jsonString(e.userId)}` +
      `,"serverId":${e.serverId === null ? 'null' : jsonString(e.serverId)},"method":${jsonString(e.method)},"outcome":"${e.outcome}"`
    if (e.name !== undefined) json += `,"name":${jsonString(e.name)}`
  }
  json += `,"status":${e.status},"durationMs":${e.durationMs},"bytesIn":${e.bytesIn},"bytesOut":${e.bytesOut},"ip":${jsonString(e.ip)}`
  if (e.secretGeneration !== undefined) json += `,"secretGeneration":${e.secretGeneration}`
  if (e.code !== undefined) json += `,"code":${jsonString(e.code)}`
  if (e.session !== undefined) json += `,"session":${jsonString(e.session)}`
  if (e.userAgent !== undefined) json += `,"userAgent":${jsonString(e.userAgent)}`
  if (e.arguments !== undefined) json += `,"arguments":${JSON.stringify(e.arguments)}`
  return json + '}'
}

/** Every field auditJson writes: adding a field to AuditEvent without writing it there fails to compile here. */
const WRITTEN = ['id', 'time', 'keyId', 'userId', 'serverId', 'method', 'name', 'outcome', 'requestId', 'status', 'durationMs', 'bytesIn', 'bytesOut', 'ip', 'secretGeneration', 'code', 'session', 'userAgent', 'arguments'] as const
export const AUDIT_FIELDS_WRITTEN: Exclude<keyof AuditEvent, typeof WRITTEN[number]> extends never ? readonly string[] : never = WRITTEN
