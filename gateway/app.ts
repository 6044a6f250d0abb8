// buildGateway(config, deps): the gateway as a Fastify app, not listening (cli/ listens and
// closes it with grace). Encapsulation is the architecture:
//   root      the request record (access-log.ts), origin check + CORS, preflights, /healthz,
//             /readyz, JSON errors, fast JSON 404s (OAuth discovery included: reply-error.ts;
//             in OAuth mode protected resource metadata and pointers to the AS: oauth.ts)
//   └ authed  onRequest authentication (auth.ts) → GET /api/me
//     └ proxy catch-all raw-body parser; preHandler authorization (authorize.ts) → the upstream
//             hop (upstream.ts), watched by metrics, session bindings (sessions.ts) and
//             revocation (revocation.ts)
import { setFlagsFromString } from 'node:v8'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { Config } from '../config/schema.ts'
import { systemClock, type Clock } from '../core/clock.ts'
import { ConnectionDrain } from '../core/connection-drain.ts'
import { BufferedLogDestination } from '../core/log-destination.ts'
import { redactKeys } from '../core/key-format.ts'
import { requestId } from '../core/request-id.ts'
import { VERSION } from '../core/version.ts'
import type { InvalidationEvent, KeyStore } from '../core/store/store.ts'
import { AccessLogController, trackRequests, type LogStream, type RequestEnd } from './access-log.ts'
import { AuditRecorder } from './audit.ts'
import { Telemetry } from './telemetry.ts'
import { Authenticator, authenticationHook, newAuthStats, StoreHealth, type AuthStats } from './auth.ts'
import { OriginPolicy, originHook, preflight } from './cors.ts'
import { healthRoutes } from './health.ts'
import { KeyCache } from './key-cache.ts'
import { LastUsedRecorder } from './last-used.ts'
import { LowPriorityVerifier } from '../core/low-priority-verifier.ts'
import { meRoute } from './me.ts'
import { GatewayMetrics, metricsEndpoint } from './metrics.ts'
import { MCP_ROUTES, proxyRoutes } from './proxy.ts'
import { OAuthResource, oauthDiscoveryRoutes } from './oauth.ts'
import { ServerRegistry } from './registry.ts'
import { errorReplies } from './reply-error.ts'
import { Limiter } from './limits.ts'
import { lazyChildLogger } from './request-logger.ts'
import { Revocation } from './revocation.ts'
import { SessionBindings } from './sessions.ts'
import { ToolRules } from './tool-rules.ts'
import { Upstream, type ServerLoad } from './upstream.ts'

type LoggerOptions = Exclude<FastifyServerOptions['logger'], boolean | undefined>

/** Buffered log lines are written at least this often, so a quiet gateway's lines are not held back. */
const LOG_FLUSH_MS = 1000
/** ~100 access lines: at 5,000 requests a second, 50 writes a second instead of 400 at 4 KB. */
const LOG_BATCH_BYTES = 32 * 1024
/** How long close() waits for the last buffered lines to be written. */
const LOG_CLOSE_FLUSH_MS = 1000

/** Where the gateway's log lines go (pino's and the access lines), and how they are flushed on close. */
interface LogOutput {
  stream: LogStream
  flush(): Promise<void>
  stop(): void
}

/**
 * stdout in batches of at least LOG_BATCH_BYTES, written asynchronously (core/log-destination.ts):
 * one access line per request written on its own cost ~40 µs of CPU per request, and each write
 * is a trip through libuv's thread pool (a wake-up of another thread on a core the event loop
 * needs). Flushed every LOG_FLUSH_MS, after the drain and on close; a crash can lose the last
 * unflushed lines (≤ 1 s of them).
 */
function bufferedStdout (): LogOutput {
  const stream = new BufferedLogDestination(1, LOG_BATCH_BYTES)
  const timer = setInterval(() => { stream.flush() }, LOG_FLUSH_MS).unref()
  // An exit without close() (a fatal error) still writes what is buffered.
  const onExit = () => { stream.flushSync() }
  process.on('exit', onExit)
  return {
    stream,
    // Bounded: a stuck stdout must not hold the shutdown.
    flush: () => new Promise<void>(resolve => {
      const give = setTimeout(resolve, LOG_CLOSE_FLUSH_MS).unref()
      stream.flush(() => { clearTimeout(give); resolve() })
    }),
    stop: () => {
      clearInterval(timer)
      process.off('exit', onExit)
    }
  }
}

/** The caller's stream (tests inject one), written as pino writes; else our buffered stdout. */
function logOutput (given: LogStream | undefined): LogOutput {
  if (given === undefined) return bufferedStdout()
  return { stream: given, flush: async () => {}, stop: () => {} }
}

export interface GatewayDeps {
  store: KeyStore
  clock?: Clock
  /**
   * pino options merged over ours (e.g. `{ stream }` in tests), except the redaction. The gateway
   * always builds its own logger: its access lines are written straight to the logger's stream
   * (access-log.ts).
   */
  logger?: LoggerOptions
  /** Told every finished request, after the access line and metrics (its record is complete). */
  onRequestEnd?: (end: RequestEnd) => void
}

/** What later issues (metrics, hot reload) and tests reach through `app.mcpgate`. */
export interface GatewayControl {
  readonly stats: AuthStats
  readonly cache: KeyCache
  readonly lastUsed: LastUsedRecorder
  readonly registry: ServerRegistry
  readonly health: StoreHealth
  readonly upstream: Upstream
  readonly revocation: Revocation
  /** The audit trail's writer; null when audit.enabled is false. */
  readonly audit: AuditRecorder | null
  /** Tracing; null unless telemetry.otlp.endpoint is set. */
  readonly telemetry: Telemetry | null
  /** Rate limits and tool-call quotas. */
  readonly limiter: Limiter
  /** OAuth mode's access token checks; null when oauth.enabled is false. */
  readonly oauth: OAuthResource | null
  /** Hot reload: servers, access rules and allowed origins; in-flight streams are not dropped. */
  reload (config: Readonly<Config>): void
}

const REDACT = {
  paths: [
    'req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers.cookie', 'req.headers["proxy-authorization"]',
    'headers.authorization', 'headers["x-api-key"]', 'headers.cookie', 'headers["proxy-authorization"]'
  ],
  censor: '[redacted]'
}

const SERIALIZERS = {
  /** Like fastify's, with anything key-shaped in the URL masked (a key in a query string is a client mistake, not a log entry). */
  req (request: { method: string, url: string, ip?: string, socket?: { remotePort?: number } }) {
    return { method: request.method, url: redactKeys(request.url), remoteAddress: request.ip, remotePort: request.socket?.remotePort }
  }
}

function publicPathPrefix (config: Readonly<Config>): string {
  if (config.gateway.publicUrl === undefined) return ''
  try {
    return new URL(config.gateway.publicUrl).pathname.replace(/\/+$/, '')
  } catch {
    return ''
  }
}

/**
 * The gateway's two V8 settings (bench/README.md, "GC settings"), process-wide flags that V8 reads
 * at every GC, so they apply without a command-line flag:
 * - heap growth: how far the old generation may grow past what the last full GC found live. V8's
 *   default is dynamic, up to 4× on a busy process, so a gateway with 100k cached keys (~65 MB
 *   live) sat at 400+ MB RSS; 50 % keeps it near 1.5×.
 * - allocation-site pretenuring off: under load, V8 sees request objects still alive at a young
 *   GC (they are in flight) and starts allocating them straight in the old generation, where only
 *   a full GC frees them: ~1.3 MB promoted per young GC, 6 ms young-GC pauses and a full GC every
 *   ~0.7 s. Without it: ~40 KB per young GC, 1 ms pauses, −30 % CPU per proxied request.
 */
function applyV8Settings (gw: Readonly<Config['gateway']>): void {
  setFlagsFromString(`--heap-growing-percent=${gw.heapGrowingPercent}`)
  setFlagsFromString(gw.pretenuring ? '--allocation-site-pretenuring' : '--no-allocation-site-pretenuring')
}

export async function buildGateway (config: Readonly<Config>, deps: GatewayDeps): Promise<FastifyInstance> {
  const { store } = deps
  const clock = deps.clock ?? systemClock
  const gw = config.gateway
  applyV8Settings(gw)

  const out = logOutput(deps.logger?.stream)
  const app = Fastify({
    // Credentials never reach the log: headers are redacted and keys masked in URLs, whatever
    // options the caller gave.
    logger: { level: config.log.level, ...deps.logger, redact: REDACT, serializers: SERIALIZERS, stream: out.stream },
    trustProxy: gw.trustProxy,
    // One access line per request (access-log.ts) instead of Fastify's two.
    logController: new AccessLogController(),
    // A valid client X-Request-Id is kept (correlation across a load balancer), else a UUID.
    genReqId: requestId,
    // request.log is made on first use: most requests log only their access line (access-log.ts).
    childLoggerFactory: lazyChildLogger,
    // Only the methods MCP uses; an automatic HEAD route would be proxied too.
    exposeHeadRoutes: false,
    // Also bounds each close step (default 10 s), the drain in preClose included: past the grace and cli's margin.
    pluginTimeout: gw.shutdownGraceMs + 10_000,
    return503OnClosing: true
  })

  // Every header field is kept (a count cap would drop the ones past it silently, Content-Length
  // among them); the tracker answers 431 past MAX_HEADER_FIELDS (access-log.ts).
  app.server.maxHeadersCount = 0

  const stats = newAuthStats()
  const health = new StoreHealth(clock)
  const cache = new KeyCache({
    maxKeys: gw.cache.maxKeys,
    maxUsers: gw.cache.maxUsers,
    negativeSize: gw.guards.negativeCacheSize,
    negativeTtlMs: gw.guards.failureWindowMs
  })
  const registry = new ServerRegistry(config.servers, gw.upstream)
  const metrics: GatewayMetrics = new GatewayMetrics({
    stats,
    cache,
    health,
    registry,
    store,
    clock,
    pendingLastUsed: (): number => lastUsed.pendingCount,
    audit: () => audit,
    limitsDecidedLocally: (): number => limiter.degraded,
    upstreamLoad: (): Iterable<ServerLoad> => upstream.load()
  })
  const unobserve = metrics.observeStore(store)
  const origins = new OriginPolicy(gw.allowedOrigins)
  const lastUsed = new LastUsedRecorder({
    store,
    clock,
    flushMs: gw.lastUsedFlushMs,
    onFlushed: () => health.markHealthy(),
    onError: err => {
      health.markFailed()
      app.log.warn({ err }, 'could not record lastUsedAt; will retry')
    }
  })
  const verifier = new LowPriorityVerifier(gw.guards.maxConcurrentVerifications)
  const authenticator = new Authenticator({
    store,
    cache,
    clock,
    health,
    stats,
    config: gw,
    onVerification: (s, valid) => metrics.verification(s, valid),
    verify: (phc, secret) => verifier.verify(phc, secret)
  })

  const sessions = new SessionBindings({ store, clock, idleTtlMs: gw.sessions.idleTtlMs, maxCached: gw.sessions.maxCached, log: app.log })
  const revocation = new Revocation({ store, clock, registry, log: app.log, onCut: (reason, serverId) => metrics.cut(reason, serverId) })
  // Shutdown: stop accepting, end standalone SSE streams, let in-flight requests finish for at
  // most shutdownGraceMs; then the onClose hook below flushes last-used.
  const drain = new ConnectionDrain(app.server)
  const limiter = new Limiter({ store, clock, config: gw.limits, log: app.log })
  const telemetry = config.telemetry.otlp.endpoint === undefined ? null : new Telemetry(config.telemetry, VERSION)
  const audit = config.audit.enabled
    ? new AuditRecorder({ store, clock, config: config.audit, log: app.log, serverAudit: id => registry.get(id)?.config.audit })
    : null
  // OAuth mode: access tokens beside keys, and the discovery that leads clients to the AS.
  const oauth = config.oauth.enabled ? new OAuthResource({ store, clock, config, maxTokens: gw.cache.maxKeys }) : null
  const upstream: Upstream = new Upstream({
    audit: audit !== null,
    limiter,
    config: gw.upstream,
    trustProxy: gw.trustProxy,
    publicPathPrefix: publicPathPrefix(config),
    log: app.log,
    drain,
    observers: telemetry === null ? [metrics.observer(), sessions, revocation] : [metrics.observer(), sessions, revocation, telemetry]
  })

  // Invalidation events evict at once and end the open exchanges the change refuses; a
  // (re)subscribe may have lost some, so all goes stale and every open key is checked again.
  const unsubscribe = store.subscribe({
    onEvent (event: InvalidationEvent) {
      if (event.type === 'key') {
        cache.evictKey(event.keyId)
        revocation.keyChanged(event.keyId)
      } else if (event.type === 'user') {
        cache.evictUser(event.userId)
        revocation.userChanged(event.userId)
      } else {
        cache.clear()
        revocation.everything()
      }
    },
    onResync () {
      cache.markAllStale()
      revocation.everything()
    }
  })

  const control: GatewayControl = {
    stats,
    cache,
    lastUsed,
    registry,
    health,
    upstream,
    revocation,
    audit,
    telemetry,
    limiter,
    oauth,
    reload (next) {
      registry.update(next.servers, next.gateway.upstream)
      upstream.retain(new Set(next.servers.map(s => s.id)))
      origins.update(next.gateway.allowedOrigins)
      // Streams a server's removal or new access rule no longer allows end now.
      revocation.reloaded()
    }
  }
  app.decorate('mcpgate', control)

  app.addHook('preClose', async () => {
    await drain.close(gw.shutdownGraceMs)
    await out.flush()
  })

  // Tokens are bound to <gateway.publicUrl>/mcp-connect/<id>; without it the request's own
  // Host header names the endpoint, which only a single, directly reached gateway can trust.
  if (oauth !== null && gw.publicUrl === undefined) app.log.warn('oauth.enabled without gateway.publicUrl: token audiences and protected resource metadata follow each request\'s Host header; set gateway.publicUrl')
  const replies = errorReplies(config.admin.publicUrl, oauth)
  app.setErrorHandler(replies.sendError)
  app.setNotFoundHandler(replies.sendNotFound)
  // First hook: every request, refused ones included, gets its id header, access line and count.
  const onRequestEnd = deps.onRequestEnd
  trackRequests(app, {
    registry,
    accessLog: config.log.accessLog ? out.stream : null,
    // Beside the pipeline, each reading the finished request's record: metrics, the audit trail, listeners.
    onEnd: end => {
      metrics.requestEnded(end)
      audit?.record(end)
      telemetry?.ended(end)
      onRequestEnd?.(end)
    }
  })
  telemetry?.register(app)
  app.addHook('onRequest', originHook(origins))

  for (const url of [...MCP_ROUTES, '/api/me']) {
    app.options(url, preflight)
  }
  // Key-only mode: OAuth discovery and endpoints answer a fast JSON 404 that says to send a key,
  // without authentication (an MCP client probes them before it sends anything). Whatever body
  // comes (a form-encoded token request) is read and dropped, never a 415.
  await app.register(async function noOAuth (scope) {
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('*', (_request, payload, done) => {
      payload.resume()
      payload.once('end', () => { done(null) })
    })
    if (oauth === null) {
      for (const url of OAUTH_PATHS) scope.all(url, replies.sendNoOAuth)
      return
    }
    oauthDiscoveryRoutes(scope, { oauth, registry, sendNoOAuth: replies.sendNoOAuth })
    for (const url of OAUTH_PATHS) if (!OAUTH_MODE_PATHS.has(url)) scope.all(url, replies.sendNoOAuth)
  })
  await app.register(healthRoutes, { store, health })
  metricsEndpoint(app, metrics, gw)

  await app.register(async function authenticated (authed) {
    authed.addHook('onRequest', authenticationHook(authenticator, lastUsed, oauth))
    await authed.register(meRoute, { store, limiter })
    await authed.register(proxyRoutes, { registry, sessions, upstream, toolRules: new ToolRules(), limiter })
  })

  lastUsed.start()
  audit?.start()
  limiter.start()
  app.addHook('onClose', async () => {
    unsubscribe()
    unobserve()
    limiter.stop()
    await audit?.close()
    await telemetry?.shutdown().catch((err: unknown) => { app.log.warn({ err }, 'could not export the last spans') })
    await lastUsed.close()
    await upstream.destroy()
    await verifier.close()
    out.stop()
    await out.flush()
  })

  return app
}

/** OAuth discovery documents and endpoints MCP clients probe, also under a server's path. */
const OAUTH_PATHS = [
  '/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/*',
  '/.well-known/oauth-authorization-server', '/.well-known/oauth-authorization-server/*',
  '/.well-known/openid-configuration', '/.well-known/openid-configuration/*',
  '/mcp-connect/:serverId/.well-known/*',
  '/register', '/authorize', '/token'
]

/** OAUTH_PATHS that OAuth mode answers itself (gateway/oauth.ts). */
const OAUTH_MODE_PATHS = new Set(['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration', '/register', '/authorize', '/token'])

declare module 'fastify' {
  interface FastifyInstance {
    mcpgate: GatewayControl
  }
}
