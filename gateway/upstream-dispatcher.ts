// The undici dispatcher reply-from sends upstream requests through: one Agent per server, so each
// server gets its own connect timeout and pool, tuned from config.gateway.upstream. reply-from sets
// one `timeout` for headers AND body, which would cut long SSE streams; here the response-headers
// timeout is per server and the body has none (an SSE stream may idle for hours).
import { AsyncLocalStorage } from 'node:async_hooks'
import { Agent, type Dispatcher } from 'undici'
import type { Config } from '../config/schema.ts'
import type { RegisteredServer } from './registry.ts'

export interface UpstreamContext {
  server: RegisteredServer
  /** Aborted when the client goes away, so the upstream sees its request closed. */
  signal: AbortSignal
}

/**
 * reply-from calls the dispatcher synchronously inside `reply.from()`; the proxy handler runs
 * that call inside `upstreamContext.run()` so the dispatcher knows which server it is for.
 */
export const upstreamContext = new AsyncLocalStorage<UpstreamContext>()

interface PooledAgent {
  agent: Agent
  signature: string
}

export class UpstreamDispatcher {
  readonly #agents = new Map<string, PooledAgent>()
  readonly #options: Readonly<Config['gateway']['upstream']>

  constructor (options: Readonly<Config['gateway']['upstream']>) {
    this.#options = options
  }

  request (options: Dispatcher.RequestOptions, callback: (err: Error | null, data: Dispatcher.ResponseData) => void): void {
    const ctx = upstreamContext.getStore()
    if (ctx === undefined) {
      callback(new Error('upstream request outside of a proxy context'), undefined as unknown as Dispatcher.ResponseData)
      return
    }
    const { timeouts } = ctx.server.config
    this.#agentFor(ctx.server).request({
      ...options,
      headersTimeout: timeouts.headersMs,
      bodyTimeout: 0,
      signal: ctx.signal
    }, callback)
  }

  #agentFor (server: RegisteredServer): Agent {
    const signature = `${server.url.origin}|${server.config.timeouts.connectMs}`
    const pooled = this.#agents.get(server.id)
    if (pooled !== undefined && pooled.signature === signature) return pooled.agent
    if (pooled !== undefined) pooled.agent.close().catch(() => {})
    const keepAlive = Math.max(1, this.#options.keepAliveTimeoutMs)
    const agent = new Agent({
      connections: this.#options.connections,
      pipelining: this.#options.pipelining,
      keepAliveTimeout: Math.min(4000, keepAlive),
      keepAliveMaxTimeout: keepAlive,
      connect: { timeout: server.config.timeouts.connectMs }
    })
    this.#agents.set(server.id, { agent, signature })
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
