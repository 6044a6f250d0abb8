// The undici dispatcher reply-from sends upstream requests through: one Agent per server, so each
// server gets its own connect timeout and pool, tuned from config.gateway.upstream. reply-from sets
// one `timeout` for headers AND body, which would cut long SSE streams; here the response-headers
// timeout is per server and the body has none (an SSE stream may idle for hours). Each request is
// dispatched with an UpstreamExchange (upstream-exchange.ts) instead of undici's request() API.
import { Agent, type Dispatcher } from 'undici'
import type { Config } from '../config/schema.ts'
import type { RegisteredServer } from './registry.ts'
import { UpstreamExchange, type UpstreamHead } from './upstream-exchange.ts'

export interface UpstreamContext {
  readonly server: RegisteredServer
  /** Set by the dispatcher: the proxy aborts it when the client goes away and pipes its body. */
  exchange: UpstreamExchange | null
}

type Callback = (err: Error | null, head: UpstreamHead | null) => void

/** Set only for the duration of one synchronous `reply.from()` call, see withUpstreamContext. */
let handoff: UpstreamContext | undefined

/**
 * reply-from calls the dispatcher synchronously inside `reply.from()` (no retries here), so the
 * proxy hands the server and the abort signal over in a variable set around that call — cheaper
 * than AsyncLocalStorage, whose run() and promise hooks cost every request ~3 % of the CPU. Never
 * stale: cleared when the call returns, so a dispatch outside it finds no context and fails.
 */
export function withUpstreamContext<T> (ctx: UpstreamContext, fn: () => T): T {
  handoff = ctx
  try {
    return fn()
  } finally {
    handoff = undefined
  }
}

interface PooledAgent {
  agent: Agent
  /** The registry entry it was last used for: the same object needs no further check. */
  server: RegisteredServer
  origin: string
  connectMs: number
}

export class UpstreamDispatcher {
  readonly #agents = new Map<string, PooledAgent>()
  readonly #options: Readonly<Config['gateway']['upstream']>

  constructor (options: Readonly<Config['gateway']['upstream']>) {
    this.#options = options
  }

  /** reply-from's transport: `request(options, callback)` as on an undici Pool or Agent. */
  request (options: Dispatcher.DispatchOptions, callback: Callback): void {
    const ctx = handoff
    handoff = undefined
    if (ctx === undefined) {
      callback(new Error('upstream request outside of a proxy context'), null)
      return
    }
    this.send(ctx, options, callback)
  }

  /** Sends through the server's agent. `options` is reply-from's own per-call object: set in place, no copy. */
  protected send (ctx: UpstreamContext, options: Dispatcher.DispatchOptions, callback: Callback): UpstreamExchange {
    options.headersTimeout = ctx.server.config.timeouts.headersMs
    options.bodyTimeout = 0
    const exchange = new UpstreamExchange(callback)
    ctx.exchange = exchange
    this.#agentFor(ctx.server).dispatch(options, exchange)
    return exchange
  }

  #agentFor (server: RegisteredServer): Agent {
    const pooled = this.#agents.get(server.id)
    if (pooled !== undefined && pooled.server === server) return pooled.agent
    // A reload made a new registry entry (URL.origin builds a new string, so not per request).
    const origin = server.url.origin
    const connectMs = server.config.timeouts.connectMs
    if (pooled !== undefined && pooled.origin === origin && pooled.connectMs === connectMs) {
      pooled.server = server
      return pooled.agent
    }
    if (pooled !== undefined) pooled.agent.close().catch(() => {})
    const keepAlive = Math.max(1, this.#options.keepAliveTimeoutMs)
    const agent = new Agent({
      connections: this.#options.connections,
      pipelining: this.#options.pipelining,
      keepAliveTimeout: Math.min(4000, keepAlive),
      keepAliveMaxTimeout: keepAlive,
      connect: { timeout: connectMs }
    })
    this.#agents.set(server.id, { agent, server, origin, connectMs })
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
