// The audit trail's writer: one event per MCP request under /mcp-connect — per JSON-RPC message of
// a batch — and per refusal, made from the request's record when it ends (nothing re-derived),
// buffered in memory and written to the store in batches off the request path. A store outage
// never blocks or slows traffic: events wait in a bounded buffer, what does not fit is dropped,
// counted and logged once per outage. Optionally each event also goes out as a JSON line (a file,
// or stdout) for log shippers.
import { createHash } from 'node:crypto'
import { createWriteStream, type WriteStream } from 'node:fs'
import type { FastifyBaseLogger } from 'fastify'
import { DAY_MS, type AuditEvent, type AuditOutcome } from '../core/audit.ts'
import type { Clock } from '../core/clock.ts'
import { randomBase62 } from '../core/key-format.ts'
import type { KeyStore } from '../core/store/store.ts'
import type { Config, ServerConfig } from '../config/schema.ts'
import type { RequestEnd } from './access-log.ts'
import type { McpCall } from './mcp-filter.ts'
import { MCP_ROUTE_PREFIX } from './reply-error.ts'

/** The code of a call the gateway answered itself because the key's or owner's rule refused it. */
export const TOOL_NOT_ALLOWED = 'MCPGATE_TOOL_NOT_ALLOWED'

/** The code of a tool call the gateway answered itself because a tool-call quota was used up. */
export const QUOTA_EXCEEDED = 'MCPGATE_TOOL_QUOTA_EXCEEDED'

/** Codes that are the upstream's failure (error), not the gateway refusing the client (denied). */
const UPSTREAM_FAILURES = new Set(['MCPGATE_UPSTREAM_AUTH_FAILED', 'MCPGATE_UPSTREAM_UNREACHABLE', 'MCPGATE_UPSTREAM_CONNECT_TIMEOUT', 'MCPGATE_UPSTREAM_TIMEOUT', 'MCPGATE_INTERNAL'])

const MAX_USER_AGENT = 256
const MAX_ARGUMENTS_BYTES = 4096
/** The most events one store write carries. */
const MAX_BATCH = 1000

export interface AuditCounters {
  written: number
  dropped: number
  failedWrites: number
}

export interface AuditOptions {
  store: KeyStore
  clock: Clock
  config: Readonly<Config['audit']>
  log: FastifyBaseLogger
  /** The server's audit settings by id (arguments, redaction), from the running config. */
  serverAudit: (serverId: string) => Readonly<ServerConfig['audit']> | undefined
}

export class AuditRecorder {
  readonly counters: AuditCounters = { written: 0, dropped: 0, failedWrites: 0 }
  readonly #options: AuditOptions
  #buffer: AuditEvent[] = []
  /** The batch being written, kept with its id until a write of it succeeds (a retry is written once). */
  #batch: { id: string, events: AuditEvent[] } | null = null
  #timer: NodeJS.Timeout | undefined
  #flushing: Promise<void> | undefined
  #queued: Promise<void> | undefined
  /** Set when the buffer overflowed, until a write succeeds: the overflow is logged once. */
  #overflowing = false
  #file: WriteStream | NodeJS.WriteStream | null = null

  constructor (options: AuditOptions) {
    this.#options = options
    const file = options.config.file
    if (file === 'stdout') this.#file = process.stdout
    else if (file !== undefined) this.#file = createWriteStream(file, { flags: 'a', mode: 0o600 })
  }

  get buffered (): number { return this.#buffer.length + (this.#batch?.events.length ?? 0) }

  /** Called once per finished request (after the access line): its events, from its record. */
  record (end: RequestEnd): void {
    if (!end.request.url.startsWith(MCP_ROUTE_PREFIX + '/')) return
    const events = eventsOf(end, this.#options.clock.now(), this.#options.serverAudit)
    for (const e of events) this.#push(e)
  }

  #push (event: AuditEvent): void {
    if (this.#file !== null) this.#file.write(JSON.stringify(event) + '\n')
    if (this.buffered >= this.#options.config.bufferEvents) {
      this.counters.dropped++
      if (!this.#overflowing) {
        this.#overflowing = true
        this.#options.log.error({ buffered: this.#buffer.length }, 'audit events are being dropped: the store has not taken them and the buffer (audit.bufferEvents) is full; counted in mcpgate_audit_events_total{result="dropped"}')
      }
      return
    }
    this.#buffer.push(event)
    if (this.#buffer.length >= MAX_BATCH) this.flush().catch(() => {})
  }

  start (): void {
    if (this.#timer !== undefined) return
    this.#timer = setInterval(() => { this.flush().catch(() => {}) }, this.#options.config.flushMs)
    this.#timer.unref()
  }

  /**
   * Writes what is buffered now, one batch at a time, after a write already running; a failed
   * batch stays for the next flush. At most one write waits behind the running one.
   */
  flush (): Promise<void> {
    if (this.#queued !== undefined) return this.#queued
    const running = this.#flushing
    if (running === undefined) {
      this.#flushing = this.#write().finally(() => { this.#flushing = undefined })
      return this.#flushing
    }
    this.#queued = running.then(() => {
      this.#queued = undefined
      return this.flush()
    })
    return this.#queued
  }

  async close (): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
    await this.#queued
    await this.#flushing
    this.#flushing = this.#write(true).finally(() => { this.#flushing = undefined })
    await this.#flushing
    if (this.#file !== null && this.#file !== process.stdout) await new Promise<void>(resolve => (this.#file as WriteStream).end(resolve))
  }

  /**
   * Writes the batch left by a failed write or what is buffered, then only full batches: what
   * arrives during a write waits for the next flush (a busy gateway writes about once per flushMs).
   * `all` (closing) writes everything.
   */
  async #write (all = false): Promise<void> {
    const { store, clock, config } = this.#options
    let least = 1
    while (this.#batch !== null || this.#buffer.length >= least) {
      if (!all) least = MAX_BATCH
      if (this.#batch === null) this.#batch = { id: randomBase62(16), events: this.#buffer.splice(0, MAX_BATCH) }
      const batch = this.#batch
      try {
        await store.appendAudit(batch.events, { olderThan: clock.now() - config.retentionDays * DAY_MS, maxEvents: config.maxEvents }, batch.id)
      } catch (err) {
        this.counters.failedWrites++
        if (this.counters.failedWrites === 1 || this.counters.failedWrites % 60 === 0) {
          this.#options.log.warn({ err, buffered: this.buffered }, 'could not write audit events; they wait in memory and are written when the store is back')
        }
        return
      }
      this.#batch = null
      this.counters.written += batch.events.length
      this.#overflowing = false
    }
  }
}

function sessionDigest (sessionId: string): string {
  return createHash('sha256').update(sessionId).digest('hex').slice(0, 16)
}

/** tools/call arguments with the values of secret-looking names replaced, cut to MAX_ARGUMENTS_BYTES. */
export function redactArguments (args: unknown, redact: readonly string[]): unknown {
  const patterns = redact.map(r => r.toLowerCase())
  const walk = (v: unknown, depth: number): unknown => {
    if (depth > 8) return '[deep]'
    if (Array.isArray(v)) return v.map(x => walk(x, depth + 1))
    if (typeof v !== 'object' || v === null) return v
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(v)) {
      out[k] = patterns.some(p => k.toLowerCase().includes(p)) ? '[redacted]' : walk(x, depth + 1)
    }
    return out
  }
  const redacted = walk(args, 0)
  const text = JSON.stringify(redacted)
  return text !== undefined && text.length > MAX_ARGUMENTS_BYTES ? { truncated: text.slice(0, MAX_ARGUMENTS_BYTES) } : redacted
}

/**
 * The events of one finished request (one per message of its body when it was read). Each is one
 * object literal of one shape (absent fields undefined, which JSON leaves out): built for every
 * request, it must stay cheap.
 */
export function eventsOf (end: RequestEnd, now: number, serverAudit: AuditOptions['serverAudit']): AuditEvent[] {
  const calls = end.gate.calls
  if (calls === null || calls.length === 0) {
    const method = end.method === 'POST' ? (calls === null ? 'unknown' : 'invalid') : `http:${end.method}`
    return [eventOf(end, now, method, null, undefined)]
  }
  const serverId = end.gate.server?.id ?? end.gate.routeServerId
  const audit = serverId === null ? undefined : serverAudit(serverId)
  if (calls.length === 1) return [eventOf(end, now, (calls[0] as McpCall).method, calls[0] as McpCall, audit)]
  return calls.map(call => eventOf(end, now, call.method, call, audit))
}

function eventOf (end: RequestEnd, now: number, method: string, call: McpCall | null, audit: Readonly<ServerConfig['audit']> | undefined): AuditEvent {
  const { gate, request } = end
  const principal = gate.principal
  const ua = request.headers['user-agent']
  let outcome: AuditOutcome = 'allowed'
  let code: string | undefined
  if (call?.refused === 'scope') {
    outcome = 'denied'
    code = TOOL_NOT_ALLOWED
  } else if (call?.refused === 'quota') {
    outcome = 'denied'
    code = QUOTA_EXCEEDED
  } else if (end.code !== null) {
    code = end.code
    outcome = UPSTREAM_FAILURES.has(code) ? 'error' : 'denied'
  } else if (end.status >= 500) {
    // The upstream's own failures; a client leaving before an answer (499) is neither.
    outcome = 'error'
  }
  return {
    time: now,
    requestId: request.id,
    keyId: principal?.keyId ?? (gate.claimedKeyId === null ? null : ownCopy(gate.claimedKeyId)),
    userId: principal?.userId ?? null,
    secretGeneration: principal?.secretGeneration,
    serverId: gate.server?.id ?? gate.routeServerId,
    method,
    name: call?.name,
    outcome,
    code,
    status: end.status,
    durationMs: Math.round(end.durationMs * 10) / 10,
    bytesIn: end.bytesIn,
    bytesOut: end.bytesOut,
    session: gate.sessionId === null ? undefined : sessionDigest(gate.sessionId),
    ip: gate.ip,
    userAgent: typeof ua === 'string' && ua !== '' ? ua.slice(0, MAX_USER_AGENT) : undefined,
    arguments: audit?.arguments === true && call?.arguments !== undefined ? redactArguments(call.arguments, audit.redact) : undefined
  }
}

/** A flat copy: a keyId parsed from a request is a slice of the raw key (secret included). */
function ownCopy (s: string): string {
  return Buffer.from(s, 'latin1').toString('latin1')
}
