// The request's record is made here, by the first hook of every request, and read here at its end:
// one access-log line per gateway request (config.log.accessLog) and the end-of-request summary the
// metrics count from. Both come from a single 'close' listener per response: 'close' fires for
// finished responses and for streams the client abandoned alike, where Fastify's onResponse (on
// 'finish') would miss the SSE streams that end with the client going away. Nothing here parses
// the key or the URL again: the record has what the pipeline found.
import type { Socket } from 'node:net'
import { hostname } from 'node:os'
import { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { redactKeys } from '../core/key-format.ts'
import { errors } from '../core/errors.ts'
import { jsonString } from '../core/json-text.ts'
import { REQUEST_ID_HEADER } from '../core/request-id.ts'
import type { ServerRegistry } from './registry.ts'
import { GateRecord, type AuthVia } from './request-record.ts'

/**
 * How the key of a request was accepted, or the first refusal on the auth/authorization path.
 * A closed set: it is a metric label.
 */
export type AuthOutcome =
  | 'cache_hit' | 'cache_revalidated' | 'cache_miss_verified' | 'served_from_grace'
  | 'missing' | 'malformed' | 'invalid' | 'expired' | 'owner_disabled'
  | 'rate_limited' | 'overloaded' | 'store_unavailable'
  | 'out_of_scope' | 'access_denied'

export const ACCEPTED: Readonly<Record<AuthVia, AuthOutcome>> = {
  cache: 'cache_hit',
  revalidated: 'cache_revalidated',
  verified: 'cache_miss_verified',
  grace: 'served_from_grace'
}

export const REFUSED: Readonly<Record<string, AuthOutcome>> = {
  MCPGATE_KEY_MISSING: 'missing',
  MCPGATE_KEY_MALFORMED: 'malformed',
  MCPGATE_KEY_INVALID: 'invalid',
  MCPGATE_KEY_EXPIRED: 'expired',
  MCPGATE_OWNER_DISABLED: 'owner_disabled',
  MCPGATE_RATE_LIMITED: 'rate_limited',
  MCPGATE_OVERLOADED: 'overloaded',
  MCPGATE_STORE_UNAVAILABLE: 'store_unavailable',
  MCPGATE_KEY_OUT_OF_SCOPE: 'out_of_scope',
  MCPGATE_ACCESS_DENIED: 'access_denied'
}

/** nginx's convention: the client went away before any response was sent. */
export const CLIENT_CLOSED = 499

export interface RequestEnd {
  readonly request: FastifyRequest
  readonly gate: GateRecord
  readonly method: string
  /** 499 when the client left before a response started. */
  readonly status: number
  readonly durationMs: number
  /** Bytes on the connection during this request, headers included. */
  readonly bytesIn: number
  readonly bytesOut: number
  /** The response did not complete (e.g. the client closed an SSE stream). */
  readonly aborted: boolean
  /** A configured server id, or null (unknown ids never become labels). */
  readonly serverId: string | null
  /** null: no key was looked at (health, preflight, unknown route, refused Origin). */
  readonly auth: AuthOutcome | null
  /** The MCPGATE_* code when the gateway refused or failed the request. */
  readonly code: string | null
}

/** A log stream as pino writes to it: one string per line, newline included. */
export interface LogStream {
  write (line: string): unknown
}

export interface TrackingOptions {
  registry: ServerRegistry
  /** The gateway logger's stream, for the access lines (written directly, see accessLine); null: off. */
  accessLog: LogStream | null
  /** Called once per request, after the access line (metrics). */
  onEnd?: (end: RequestEnd) => void
}

/** Fastify's own per-request lines give way to the access line: "incoming request" drops to debug. */
export class AccessLogController extends LogController {
  override incomingRequest (request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request')
  }

  override requestCompleted (): void {}

  override streamError (error: Error, request: FastifyRequest, reply: FastifyReply): void {
    // A client closing its SSE stream is normal; the access line records it as `aborted`.
    if ((error as { code?: string }).code === 'ERR_STREAM_PREMATURE_CLOSE') request.log.debug('stream closed by the client')
    else super.streamError(error, request, reply)
  }
}

/** Per-connection byte counters at the end of the previous request (keep-alive reuses sockets). */
const seen = new WeakMap<Socket, { read: number, written: number }>()

/** Bytes read and written on `socket` since the previous request on it ended. */
function wireBytes (socket: Socket | null | undefined): { read: number, written: number } {
  if (socket === null || socket === undefined) return { read: 0, written: 0 }
  const read = Number.isFinite(socket.bytesRead) ? socket.bytesRead : 0
  const written = Number.isFinite(socket.bytesWritten) ? socket.bytesWritten : 0
  const before = seen.get(socket)
  if (before === undefined) {
    seen.set(socket, { read, written })
    return { read, written }
  }
  const delta = { read: read - before.read, written: written - before.written }
  before.read = read
  before.written = written
  return delta
}

function authOutcome (gate: GateRecord, code: string | null): AuthOutcome | null {
  if (gate.denied !== null) return gate.denied
  const refused = code === null ? undefined : REFUSED[code]
  if (refused !== undefined) return refused
  return gate.authVia === null ? null : ACCEPTED[gate.authVia]
}

const PATH_MAX = 512

/**
 * Header fields a request may have: far more than any MCP client sends (~15), far fewer than the
 * 16 KiB header block could hold. Past it: 431. (Node's own default, a silent cut at ~1,000,
 * once dropped a Content-Length and sent an empty body upstream with a 200 back.)
 */
export const MAX_HEADER_FIELDS = 500

/** What pino's default `base` puts on every line of the gateway's logger, serialized once. */
const BINDINGS = `,"pid":${process.pid},"hostname":${JSON.stringify(hostname())}`
/** pino's info level, and the levels at which a logger writes info lines. */
const INFO = 30
const INFO_ENABLED: ReadonlySet<string> = new Set(['trace', 'debug', 'info'])

const str = jsonString

/**
 * The access line, exactly as the gateway's pino logger writes an info line (level, time, pid,
 * hostname, the fields, msg), built here: through pino, these fixed fields went through its
 * generic serializer (a loop over an object built for it, serializer and redaction lookups, an
 * escape scan of every key and value), ~13 µs of CPU per request (bench/README.md, round 8).
 * Strings are escaped as JSON.stringify does (core/json-text.ts), but those that cannot hold a
 * character JSON escapes are written as they are: the request id (REQUEST_ID_PATTERN, or a UUID),
 * the HTTP method (one of the parser's fixed list), the server id (a configured one: the config's
 * id pattern) and the gateway's own outcomes. Nothing in the line is a secret.
 */
function accessLine (end: RequestEnd): string {
  const { request, gate } = end
  const url = request.url
  const q = url.indexOf('?')
  // The path only: a query string is the client's business and may carry anything.
  const path = redactKeys(q < 0 ? url : url.slice(0, q)).slice(0, PATH_MAX)
  let line = `{"level":${INFO},"time":${Date.now()}${BINDINGS},"reqId":"${request.id}","method":"${end.method}","path":${str(path)}` +
    `,"status":${end.status},"durationMs":${Math.round(end.durationMs * 10) / 10},"bytesIn":${end.bytesIn},"bytesOut":${end.bytesOut}`
  line += `,"ip":${str(gate.ip)}`
  if (end.serverId !== null) line += `,"serverId":"${end.serverId}"`
  const principal = gate.principal
  if (principal !== null) {
    line += `,"keyId":${str(principal.keyId)},"userId":${str(principal.userId)}`
  } else if (gate.claimedKeyId !== null) {
    // The key id a refused request claimed (not secret; tells which client keeps failing).
    line += `,"keyId":${str(gate.claimedKeyId)}`
  }
  if (end.auth !== null) line += `,"outcome":"${end.auth}"`
  if (end.code !== null) line += `,"code":${str(end.code)}`
  if (end.aborted) line += ',"aborted":true'
  if (gate.cutReason !== null) line += `,"cut":${str(gate.cutReason)}`
  return line + ',"msg":"access"}\n'
}

/**
 * Adds the request id header, the error-code capture and the end-of-request listener to `app`
 * (the root instance, before any route, so every route and the 404 handler inherit them).
 */
export function trackRequests (app: FastifyInstance, options: TrackingOptions): void {
  const { registry, accessLog, onEnd } = options
  app.decorateRequest('gate', null as never)

  function ended (request: FastifyRequest, reply: FastifyReply): void {
    const gate = request.gate
    const res = reply.raw
    const code = gate.code
    const bytes = wireBytes(gate.socket)
    const end: RequestEnd = {
      request,
      gate,
      method: request.method,
      status: res.headersSent ? res.statusCode : CLIENT_CLOSED,
      durationMs: reply.elapsedTime,
      bytesIn: bytes.read,
      bytesOut: bytes.written,
      aborted: !res.writableFinished,
      serverId: gate.server?.id ?? gate.routeServerId,
      auth: authOutcome(gate, code),
      code
    }
    // The level is read per line: it may be changed at run time.
    if (accessLog !== null && INFO_ENABLED.has(app.log.level)) accessLog.write(accessLine(end))
    onEnd?.(end)
  }

  app.addHook('onRequest', function track (request, reply, done) {
    reply.header(REQUEST_ID_HEADER, request.id)
    const id = (request.params as { serverId?: unknown } | null)?.serverId
    // The socket now: once a proxied response is done, request.raw.socket is gone (and request.ip with it).
    request.gate = new GateRecord(request.raw.socket, request.ip, typeof id === 'string' && registry.get(id) !== undefined ? id : null)
    // 'close' is emitted once per response: `on`, without the wrapper `once` would build per request.
    reply.raw.on('close', () => { ended(request, reply) })
    // Node keeps every header field (the server's maxHeadersCount is 0, see app.ts); the 16 KiB
    // header block bounds them, and this bounds what is forwarded.
    if (request.raw.rawHeaders.length > MAX_HEADER_FIELDS * 2) done(new errors.TooManyHeaders(MAX_HEADER_FIELDS))
    else done()
  })
}
