// The one owner of the upstream hop: an undici Agent per server (its own connect timeout; sockets
// opened as needed, so a request never queues behind another's socket), the per-server budgets of
// open streams and requests (over budget → 503 MCPGATE_UPSTREAM_BUSY at once, never a wait),
// headers timeout per server and none on the body (an SSE stream may idle for hours), the request
// headers, and the exchange that relays the answer (upstream-exchange.ts). Failures map to a
// status in one place (upstream-errors.ts). Metrics, session binding and revocation watch the
// exchanges through observers; they are not in the relay's way.
import type { IncomingHttpHeaders } from 'node:http'
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'
import { Agent, Client } from 'undici'
import type { Config } from '../config/schema.ts'
import type { ConnectionDrain } from '../core/connection-drain.ts'
import { errors } from '../core/errors.ts'
import type { RegisteredServer } from './registry.ts'
import { gatewayEndpoint, SseEndpointRewrite } from './sse-endpoint-rewrite.ts'
import type { Principal } from './auth.ts'
import { refusalText, type Limiter, type LimitRefusal } from './limits.ts'
import { ALLOW_ALL, describeRequest } from './mcp-filter.ts'
import { MAX_INSPECTED_REQUEST, readBody, ToolEnforcement, type McpPlan, type ToolCallQuota } from './tool-enforcement.ts'
import { UpstreamExchange, type BodyFilter, type ExchangeHooks, type ExchangeKind } from './upstream-exchange.ts'
import { upstreamRequestHeaders } from './upstream-headers.ts'

/**
 * Watches exchanges at their turning points. `responding` may return a promise that holds the
 * response until it settles (nothing reaches the client before: a session is bound before the
 * client learns its id); `endpoint` the same for a legacy SSE stream's endpoint event.
 */
export interface ExchangeObserver {
  opened? (exchange: UpstreamExchange): void
  responding? (exchange: UpstreamExchange, status: number, headers: IncomingHttpHeaders): Promise<void> | null
  /** A legacy SSE stream named the URL its client must POST to (already mapped to the gateway path). */
  endpoint? (exchange: UpstreamExchange, gatewayPath: string): Promise<void> | null
  closed? (exchange: UpstreamExchange): void
  /** A request refused because the server's budget was spent. */
  refused? (server: RegisteredServer, kind: ExchangeKind): void
  /** The headers about to go upstream (tracing adds its traceparent). */
  upstreamHeaders? (exchange: UpstreamExchange, headers: IncomingHttpHeaders): void
}

/** Open exchanges of one server on this replica. */
export interface ServerLoad {
  readonly serverId: string
  /** GET streams open (Streamable HTTP's standalone stream, legacy SSE). */
  streams: number
  /** Other requests in flight, a streamed answer until it ends. */
  requests: number
  /** Of both, the responses being relayed as text/event-stream. */
  sse: number
}

export interface UpstreamOptions {
  config: Readonly<Config['gateway']['upstream']>
  trustProxy: boolean
  /** Path prefix of the public URL (e.g. `/gw` behind a path-routing proxy), '' for none. */
  publicPathPrefix: string
  log: FastifyBaseLogger
  /** Shutdown ends open SSE streams through it (core/connection-drain.ts). */
  drain?: ConnectionDrain
  observers?: ExchangeObserver[]
  /** The audit trail is on: a POST's messages are read (method, name) even when no rule needs them. */
  audit?: boolean
  /** Tool-call quotas: a principal under one has its POSTs read and its calls counted. */
  limiter?: Limiter
}

/** At most one "server busy" warning per server and kind in this long. */
const BUSY_LOG_EVERY_MS = 10_000
const BUSY_RETRY_AFTER_S = '1'

interface PooledAgent {
  agent: Agent
  origin: string
  connectMs: number
}

export class Upstream {
  readonly #options: UpstreamOptions
  readonly #observers: ExchangeObserver[]
  readonly #agents = new Map<string, PooledAgent>()
  readonly #load = new Map<string, ServerLoad>()
  readonly #busyLogged = new Map<string, { at: number, refused: number }>()
  readonly #hooks: ExchangeHooks
  /** Per-tool scopes: only requests authorization gave a rule go through it. */
  readonly #tools = new ToolEnforcement()

  constructor (options: UpstreamOptions) {
    this.#options = options
    this.#observers = options.observers ?? []
    const observers = this.#observers
    const load = this.#load
    const tools = this.#tools
    const publicPathPrefix = options.publicPathPrefix
    this.#hooks = {
      responding (exchange, status, headers) {
        let hold: Promise<void> | null = null
        for (const o of observers) {
          const h = o.responding?.(exchange, status, headers)
          if (h != null) hold = hold === null ? h : Promise.all([hold, h]).then(() => {})
        }
        const server = exchange.server
        let filter: BodyFilter | null = null
        // A standalone GET stream may carry the legacy `endpoint` event: rewritten on its way through.
        if (exchange.stream && exchange.request.method === 'GET' && headers['content-encoding'] === undefined) {
          const requested = new URL(exchange.request.gate.target?.path ?? '/', server.url.origin)
          filter = new SseEndpointRewrite({
            rewrite: data => {
              const mapped = endpointFor(exchange, requested, data, publicPathPrefix)
              if (mapped !== null) {
                for (const o of observers) {
                  const h = o.endpoint?.(exchange, mapped)
                  if (h != null) exchange.holdBody(h)
                }
                tools.legacyOpened(exchange, mapped)
              }
              return mapped
            }
          })
        }
        if (exchange.stream) {
          const l = load.get(server.id)
          if (l !== undefined) l.sse++
          options.drain?.trackStream(exchange.reply.raw, { standalone: exchange.kind === 'stream', end: () => { exchange.cut('shutdown', new errors.ShuttingDown()) } })
        }
        return { hold, ...tools.responsePlan(exchange, headers, filter) }
      },
      finished (exchange) {
        exchange.ownConnection?.destroy().catch(() => {})
        tools.closed(exchange)
        const l = load.get(exchange.server.id)
        if (l !== undefined) {
          if (exchange.kind === 'stream') l.streams--
          else l.requests--
          if (exchange.stream) l.sse--
        }
        for (const o of observers) o.closed?.(exchange)
      },
      failedMidway (exchange, err) {
        exchange.request.log.warn({ serverId: exchange.server.id, err }, 'upstream response failed midway; client response cut')
      }
    }
  }

  /**
   * Sends the authorized request (request.gate: server, target, principal) upstream; the answer is
   * relayed by the exchange. Returns the reply, answered later.
   */
  forward (request: FastifyRequest, reply: FastifyReply): FastifyReply {
    const gate = request.gate
    const server = gate.server as RegisteredServer
    const kind: ExchangeKind = request.method === 'GET' ? 'stream' : 'request'
    const load = this.#loadOf(server.id)
    if (kind === 'stream' ? load.streams >= server.limits.maxStreams : load.requests >= server.limits.maxRequests) {
      this.#refuse(server, kind)
      reply.header('retry-after', BUSY_RETRY_AFTER_S)
      return reply.send(new errors.UpstreamBusy(server.id))
    }
    if (kind === 'stream') load.streams++
    else load.requests++
    const rule = gate.rule
    const quota = this.#quotaOf(gate.principal)
    if (request.method === 'POST' && (rule !== null || quota !== null)) {
      // A tool scope or a tool-call quota: the body is read and inspected first; what is refused is answered here.
      this.#tools.admit(request, reply, rule ?? ALLOW_ALL, quota).then(admission => {
        // The client may have left while its body was read.
        if ('forward' in admission && !reply.raw.destroyed) this.#dispatch(request, reply, kind, admission.forward, admission.plan)
        else this.#release(server.id, kind)
      }, (err: unknown) => {
        this.#release(server.id, kind)
        reply.send(err)
      })
      return reply
    }
    if (request.method === 'POST' && this.#options.audit === true && describable(request.headers)) {
      // The audit trail names each call: the body is read (bounded) and sent on as it came.
      readBody(request.raw, MAX_INSPECTED_REQUEST).then(body => {
        request.gate.described(describeRequest(body))
        if (!reply.raw.destroyed) this.#dispatch(request, reply, kind, body, null)
        else this.#release(server.id, kind)
      }, (err: unknown) => {
        this.#release(server.id, kind)
        reply.send(err)
      })
      return reply
    }
    this.#dispatch(request, reply, kind, hasBody(request.headers) ? request.raw : null, null)
    return reply
  }

  /** The principal's tool-call quota, or null when it has none (the usual case: one property read). */
  #quotaOf (principal: Principal | null): ToolCallQuota | null {
    const limiter = this.#options.limiter
    if (limiter === undefined || principal === null || !limiter.applies(principal, 'toolCalls')) return null
    return {
      take: async n => limiter.take(principal, 'toolCalls', n),
      answer: refusal => (id, name) => quotaAnswer(id, name, refusal)
    }
  }

  /** The budget place taken for a request that was answered without an exchange. */
  #release (serverId: string, kind: ExchangeKind): void {
    const load = this.#load.get(serverId)
    if (load === undefined) return
    if (kind === 'stream') load.streams--
    else load.requests--
  }

  #dispatch (request: FastifyRequest, reply: FastifyReply, kind: ExchangeKind, body: Buffer | FastifyRequest['raw'] | null, plan: McpPlan | null): void {
    const gate = request.gate
    const server = gate.server as RegisteredServer
    const principal = gate.principal as NonNullable<typeof gate.principal>
    const exchange = new UpstreamExchange(request, reply, server, principal, kind, this.#hooks)
    exchange.mcp = plan
    for (const o of this.#observers) o.opened?.(exchange)
    const res = reply.raw
    // Client gone → abort the upstream request (before or after its response headers).
    res.on('close', () => { if (!res.writableFinished) exchange.clientGone() })
    const headers = upstreamRequestHeaders(request.headers, server, principal, {
      remote: request.socket.remoteAddress ?? '',
      protocol: request.protocol,
      host: request.host,
      trustProxy: this.#options.trustProxy
    })
    for (const o of this.#observers) o.upstreamHeaders?.(exchange, headers)
    if (gate.rule !== null) {
      // Answers are read (filtered lists): asked for uncompressed.
      headers['accept-encoding'] = 'identity'
      if (Buffer.isBuffer(body)) headers['content-length'] = String(body.length)
    }
    // A GET stream gets a connection of its own, closed with it: kept in the server's pool, every
    // open stream would be one more client each request's dispatch walks past (undici's pool looks
    // for a free one linearly), and an aborted stream left an idle reconnected socket behind
    // (bench/README.md, "Idle streams").
    const dispatcher = kind === 'stream' ? this.#streamClient(server, exchange) : this.#agentFor(server)
    dispatcher.dispatch({
      origin: server.url.origin,
      path: (gate.target as NonNullable<typeof gate.target>).path,
      method: request.method as 'GET',
      headers,
      body,
      headersTimeout: server.config.timeouts.headersMs,
      bodyTimeout: 0
    }, exchange)
  }

  /** Open exchanges per server on this replica (metrics read it at scrape time). */
  load (): IterableIterator<ServerLoad> {
    return this.#load.values()
  }

  #loadOf (serverId: string): ServerLoad {
    let load = this.#load.get(serverId)
    if (load === undefined) {
      load = { serverId, streams: 0, requests: 0, sse: 0 }
      this.#load.set(serverId, load)
    }
    return load
  }

  #refuse (server: RegisteredServer, kind: ExchangeKind): void {
    for (const o of this.#observers) o.refused?.(server, kind)
    const id = `${server.id} ${kind}`
    const now = Date.now()
    const logged = this.#busyLogged.get(id)
    if (logged !== undefined && now - logged.at < BUSY_LOG_EVERY_MS) {
      logged.refused++
      return
    }
    const refusedBefore = logged?.refused ?? 0
    this.#busyLogged.set(id, { at: now, refused: 0 })
    const limit = kind === 'stream' ? server.limits.maxStreams : server.limits.maxRequests
    this.#options.log.warn({ serverId: server.id, kind, limit, refusedSinceLastLine: refusedBefore },
      `MCP server "${server.id}" is at its limit of ${limit} open ${kind === 'stream' ? 'streams' : 'requests'} on this replica; refusing with 503 (servers[].upstream / gateway.upstream.${kind === 'stream' ? 'maxStreams' : 'maxRequests'})`)
  }

  #streamClient (server: RegisteredServer, exchange: UpstreamExchange): Client {
    const client = new Client(server.url.origin, {
      connect: { timeout: server.config.timeouts.connectMs },
      pipelining: 1
    })
    exchange.ownConnection = client
    return client
  }

  #agentFor (server: RegisteredServer): Agent {
    const origin = server.url.origin
    const connectMs = server.config.timeouts.connectMs
    const pooled = this.#agents.get(server.id)
    if (pooled !== undefined && pooled.origin === origin && pooled.connectMs === connectMs) return pooled.agent
    // First use, or a reload changed where the server is: streams on the old agent finish there.
    if (pooled !== undefined) pooled.agent.close().catch(() => {})
    const keepAlive = Math.max(1, this.#options.config.keepAliveTimeoutMs)
    const agent = new Agent({
      // No cap on sockets: the budgets above bound them, and a capped pool would queue requests
      // behind open streams without a bound.
      connections: null,
      pipelining: 1,
      keepAliveTimeout: Math.min(4000, keepAlive),
      keepAliveMaxTimeout: keepAlive,
      connect: { timeout: connectMs }
    })
    this.#agents.set(server.id, { agent, origin, connectMs })
    return agent
  }

  /** After a reload: close (gracefully, streams finish) the agents of servers that are gone. */
  retain (ids: ReadonlySet<string>): void {
    for (const [id, pooled] of this.#agents) {
      if (ids.has(id)) continue
      this.#agents.delete(id)
      pooled.agent.close().catch(() => {})
    }
  }

  async destroy (): Promise<void> {
    const agents = [...this.#agents.values()]
    this.#agents.clear()
    await Promise.all(agents.map(p => p.agent.destroy().catch(() => {})))
  }
}

/**
 * A tool call past its quota is answered as a tool error (CallToolResult isError): clients show
 * it to the model and the user, and other methods go on working.
 */
function quotaAnswer (id: unknown, name: string, refusal: LimitRefusal | null): object {
  const why = refusal === null ? 'the tool-call quota is used up' : refusalText(refusal)
  return { jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: `The call of "${name}" was not made: ${why}.` }], isError: true } }
}

/**
 * A body the audit trail reads: JSON, with a length within the inspection bound (a longer one, or
 * one of unknown length, is relayed as it comes and recorded as method "unknown").
 */
function describable (headers: IncomingHttpHeaders): boolean {
  const length = Number(headers['content-length'])
  const type = headers['content-type']
  return Number.isInteger(length) && length > 0 && length <= MAX_INSPECTED_REQUEST && typeof type === 'string' && type.toLowerCase().startsWith('application/json')
}

/** A body to relay: a length above zero, or a chunked one. */
function hasBody (headers: IncomingHttpHeaders): boolean {
  const length = headers['content-length']
  if (length !== undefined) return length !== '0'
  return headers['transfer-encoding'] !== undefined
}

/**
 * gatewayEndpoint, and a warning when there is none: the event then goes out as the upstream sent
 * it, naming a URL the gateway cannot route (another origin, or outside the server's directory),
 * and the client will fail to post there. The operator's fix is the server's configured URL.
 */
function endpointFor (exchange: UpstreamExchange, requested: URL, data: string, publicPathPrefix: string): string | null {
  const server = exchange.server
  const mapped = gatewayEndpoint(server, requested, data, publicPathPrefix)
  if (mapped === null) {
    let where = '(not a URL)'
    try {
      const target = new URL(data.trim(), requested)
      where = target.origin + target.pathname
    } catch {}
    exchange.request.log.warn({ serverId: server.id, endpoint: where, directory: server.directory.href },
      'the upstream\'s endpoint event names a URL outside the server\'s directory; passed on unchanged, clients cannot reach it through the gateway')
  }
  return mapped
}
