// The gateway's Prometheus metrics. Counters the code already keeps (auth stats, cache sizes) are
// read at scrape time; the hot path adds two Map counts per request (TallyCounter, from the
// access-log tracker), one upstream-latency observation, and nothing per byte. Labels are closed
// sets — configured server ids, HTTP methods, status codes, outcomes, store operations — never a
// key or a user.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { Counter, Histogram, type Registry } from 'prom-client'
import type { Config } from '../config/schema.ts'
import type { Clock } from '../core/clock.ts'
import { collectedGauge, createRegistry, mirroredCounter, TallyCounter } from '../core/metrics.ts'
import { storeCalls, type StoreCall } from '../core/store/common.ts'
import type { KeyStore } from '../core/store/store.ts'
import type { RequestEnd } from './access-log.ts'
import type { AuthStats, StoreHealth } from './auth.ts'
import type { KeyCache } from './key-cache.ts'
import type { ServerRegistry } from './registry.ts'
import type { AuditRecorder } from './audit.ts'
import type { CutReason } from './revocation.ts'
import type { ExchangeObserver, ServerLoad } from './upstream.ts'

/** Anything else a client sends (Node accepts ~30 methods) is counted as OTHER. */
const METHODS = new Set(['GET', 'POST', 'DELETE', 'OPTIONS', 'HEAD', 'PUT', 'PATCH'])

export interface MetricSources {
  stats: AuthStats
  cache: KeyCache
  health: StoreHealth
  registry: ServerRegistry
  store: KeyStore
  clock: Clock
  /** lastUsed timestamps waiting for the next batched write. */
  pendingLastUsed: () => number
  /** Open upstream exchanges per server (upstream.ts). */
  upstreamLoad: () => Iterable<ServerLoad>
  /** The audit trail's writer, or null when audit is off. */
  audit: () => AuditRecorder | null
  /** Rate-limit decisions made without the store (it could not be reached). */
  limitsDecidedLocally: () => number
}

export class GatewayMetrics {
  readonly registry: Registry = createRegistry()
  readonly #requests: TallyCounter<'server' | 'method' | 'status'>
  readonly #authOutcomes: TallyCounter<'outcome'>
  readonly #argon2: Histogram<'result'>
  readonly #storeLatency: Histogram<'operation'>
  readonly #storeErrors: Counter<'operation'>
  readonly #upstream: Histogram<'server'>
  readonly #busy: Counter<'server' | 'kind'>
  readonly #cuts: Counter<'server' | 'reason'>
  readonly #auditEvents: Counter<'result'>

  constructor (sources: MetricSources) {
    const { stats, cache, health, registry, store, clock } = sources
    const registers = [this.registry]

    this.#requests = new TallyCounter(this.registry, {
      name: 'mcpgate_gateway_requests_total',
      help: 'Gateway requests by configured server id ("none" otherwise), HTTP method and status (499: client left before a response)',
      labelNames: ['server', 'method', 'status']
    })
    this.#authOutcomes = new TallyCounter(this.registry, {
      name: 'mcpgate_auth_outcomes_total',
      help: 'Requests on key-protected routes by how the key was accepted or the first refusal',
      labelNames: ['outcome']
    })
    this.#argon2 = new Histogram({
      name: 'mcpgate_argon2_verify_duration_seconds',
      help: 'argon2id verifications (cache misses only) and their duration, by result',
      labelNames: ['result'],
      buckets: [0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1],
      registers
    })
    this.#storeLatency = new Histogram({
      name: 'mcpgate_store_operation_duration_seconds',
      help: 'Key store calls of this process (auth reads, session bindings, lastUsed writes, readiness pings; with `mcpgate start` the admin API\'s too), by operation',
      labelNames: ['operation'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers
    })
    this.#storeErrors = new Counter({
      name: 'mcpgate_store_errors_total',
      help: 'Key store calls that failed (unreachable, timed out), by operation',
      labelNames: ['operation'],
      registers
    })
    this.#upstream = new Histogram({
      name: 'mcpgate_upstream_response_seconds',
      help: 'Time from sending a request upstream to its response headers, by server (failures are in requests_total as 502/503/504)',
      labelNames: ['server'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers
    })
    this.#busy = new Counter({
      name: 'mcpgate_upstream_busy_total',
      help: 'Requests refused with 503 MCPGATE_UPSTREAM_BUSY because the server\'s budget of open streams or requests on this replica was spent, by server and kind (stream|request)',
      labelNames: ['server', 'kind'],
      registers
    })
    this.#cuts = new Counter({
      name: 'mcpgate_exchanges_cut_total',
      help: 'Open streams and requests the gateway ended because their key may no longer reach the server, by server and reason',
      labelNames: ['server', 'reason'],
      registers
    })
    const load = sources.upstreamLoad
    mirroredCounter(this.registry, 'mcpgate_limits_decided_locally_total', 'Rate-limit and quota decisions a replica made alone (limit ÷ replicas seen) because the store could not be reached', sources.limitsDecidedLocally)
    const audit = sources.audit
    // A counter with a label, from the recorder's running totals at scrape time.
    let reported = { written: 0, dropped: 0 }
    this.#auditEvents = new Counter({
      name: 'mcpgate_audit_events_total',
      help: 'Audit events by result: written to the store, or dropped because the buffer (audit.bufferEvents) was full while the store was unreachable',
      labelNames: ['result'],
      registers: [this.registry],
      collect () {
        const a = audit()
        if (a === null) return
        const { written, dropped } = a.counters
        if (written > reported.written) this.inc({ result: 'written' }, written - reported.written)
        if (dropped > reported.dropped) this.inc({ result: 'dropped' }, dropped - reported.dropped)
        reported = { written, dropped }
      }
    })
    collectedGauge(this.registry, {
      name: 'mcpgate_audit_buffered',
      help: 'Audit events waiting in memory for the next store write',
      collect (g) { g.set(audit()?.buffered ?? 0) }
    })
    collectedGauge(this.registry, {
      name: 'mcpgate_sse_streams_open',
      help: 'Upstream text/event-stream responses currently being relayed, by server',
      labelNames: ['server'],
      collect (g) { for (const l of load()) g.set({ server: l.serverId }, l.sse) }
    })
    collectedGauge(this.registry, {
      name: 'mcpgate_upstream_open',
      help: 'Open upstream exchanges on this replica, by server and kind: stream (GET streams) or request (POST/DELETE in flight); each has a budget (gateway.upstream.maxStreams, maxRequests)',
      labelNames: ['server', 'kind'],
      collect (g) {
        for (const l of load()) {
          g.set({ server: l.serverId, kind: 'stream' }, l.streams)
          g.set({ server: l.serverId, kind: 'request' }, l.requests)
        }
      }
    })

    const r = this.registry
    collectedGauge(r, {
      name: 'mcpgate_key_cache_entries',
      help: 'Entries in the in-process caches: verified keys, users\' access state, remembered failures',
      labelNames: ['cache'],
      collect (g) {
        const size = cache.size
        g.set({ cache: 'keys' }, size.keys)
        g.set({ cache: 'users' }, size.users)
        g.set({ cache: 'negative' }, size.negative)
      }
    })
    collectedGauge(r, {
      name: 'mcpgate_key_cache_hit_ratio',
      help: 'Share of key lookups answered by the cache since start (hits / (hits + misses))',
      collect (g) {
        const total = stats.cacheHits + stats.cacheMisses
        g.set(total === 0 ? 0 : stats.cacheHits / total)
      }
    })
    mirroredCounter(r, 'mcpgate_key_cache_hits_total', 'Key lookups found in the cache (sha256 matched)', () => stats.cacheHits)
    mirroredCounter(r, 'mcpgate_key_cache_misses_total', 'Key lookups not in the cache (store read, then argon2 unless refused earlier)', () => stats.cacheMisses)
    mirroredCounter(r, 'mcpgate_key_revalidations_total', 'Cached keys re-checked with one store read (stale after a resubscribe, or older than cache.revalidateMs)', () => stats.revalidations)
    collectedGauge(r, {
      name: 'mcpgate_store_subscribed',
      help: '1 while invalidation events are being received, else 0',
      collect (g) { g.set(store.isSubscribed() ? 1 : 0) }
    })
    collectedGauge(r, {
      name: 'mcpgate_store_seconds_since_healthy',
      help: 'Seconds since the store last answered; cached keys are served while this is under cache.graceMs/1000',
      collect (g) { g.set(Math.max(0, clock.now() - health.lastHealthyAt) / 1000) }
    })
    collectedGauge(r, {
      name: 'mcpgate_last_used_pending',
      help: 'lastUsedAt updates waiting for the next batched store write',
      collect (g) { g.set(sources.pendingLastUsed()) }
    })
    collectedGauge(r, {
      name: 'mcpgate_servers_configured',
      help: 'Upstream MCP servers in the running config (changes on reload)',
      collect (g) { g.set(registry.list().length) }
    })
  }

  /** One finished request (called by the access-log tracker). */
  requestEnded (end: RequestEnd): void {
    const server = end.serverId ?? 'none'
    const method = METHODS.has(end.method) ? end.method : 'OTHER'
    // Server ids and methods contain no space.
    const key = `${server} ${method} ${end.status}`
    if (!this.#requests.inc(key)) this.#requests.add(key, { server, method, status: String(end.status) })
    const auth = end.auth
    if (auth !== null && !this.#authOutcomes.inc(auth)) this.#authOutcomes.add(auth, { outcome: auth })
  }

  verification (seconds: number, valid: boolean): void {
    this.#argon2.observe({ result: valid ? 'valid' : 'invalid' }, seconds)
  }

  /**
   * Times this store's calls (core/store/common.ts publishes each on diagnostics_channel
   * `mcpgate:store`; other stores in the process are not counted). Returns the unsubscribe.
   */
  observeStore (store: KeyStore): () => void {
    const latency = this.#storeLatency
    const failures = this.#storeErrors
    const listener = (message: unknown): void => {
      const call = message as StoreCall
      if (call.store !== store) return
      if (call.failed) failures.inc({ operation: call.operation })
      else latency.observe({ operation: call.operation }, call.seconds)
    }
    storeCalls.subscribe(listener)
    return () => { storeCalls.unsubscribe(listener) }
  }

  /** Watches the upstream hop: response-header latency and busy refusals. */
  observer (): ExchangeObserver {
    const latency = this.#upstream
    const busy = this.#busy
    return {
      responding (exchange) {
        latency.observe({ server: exchange.server.id }, (performance.now() - exchange.startedAt) / 1000)
        return null
      },
      refused (server, kind) {
        busy.inc({ server: server.id, kind })
      }
    }
  }

  cut (reason: CutReason, serverId: string): void {
    this.#cuts.inc({ server: serverId, reason })
  }
}

/**
 * GET /metrics: on the gateway port, or — with config.gateway.metricsPort — on a separate plain
 * HTTP server (keep it off the public network) started and stopped with the app.
 */
export function metricsEndpoint (app: FastifyInstance, metrics: GatewayMetrics, config: Readonly<Config['gateway']>): void {
  const { registry } = metrics
  const state: { server: Server | null } = { server: null }
  app.decorate('mcpgateMetrics', {
    registry,
    url () {
      const address = state.server?.address()
      if (address === null || address === undefined || typeof address === 'string') return null
      return `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${(address as AddressInfo).port}`
    }
  })

  if (config.metricsPort === undefined || config.metricsPort === null) {
    app.get('/metrics', async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()))
    return
  }

  const port = config.metricsPort
  app.addHook('onReady', async function startMetricsServer () {
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?', 1)[0] !== '/metrics') {
        res.writeHead(404, { 'content-type': 'application/json; charset=utf-8' })
        res.end('{"statusCode":404,"code":"MCPGATE_ROUTE_NOT_FOUND","error":"Not Found","message":"only GET /metrics here"}')
        return
      }
      registry.metrics().then(body => {
        res.writeHead(200, { 'content-type': registry.contentType })
        res.end(body)
      }, (err: unknown) => {
        app.log.error({ err }, 'could not render metrics')
        res.writeHead(500)
        res.end()
      })
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, config.host, () => {
        server.off('error', reject)
        resolve()
      })
    })
    state.server = server
    app.log.info({ url: `${app.mcpgateMetrics.url() ?? ''}/metrics` }, 'metrics listening')
  })
  app.addHook('onClose', async function stopMetricsServer () {
    const server = state.server
    if (server === null) return
    state.server = null
    server.closeAllConnections()
    await new Promise<void>(resolve => server.close(() => resolve()))
  })
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The gateway's metrics registry, and the separate metrics server's URL when metricsPort is set. */
    mcpgateMetrics: { registry: Registry, url(): string | null }
  }
}
