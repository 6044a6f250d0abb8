// The admin API as a Fastify app built from config and injected deps (not listening): who may
// call (principal.ts), what they may do (key-service.ts), the routes, one error format, the
// audit log, the per-IP budget of failed authentications and the OpenAPI document generated
// from the route schemas.
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { registerAjvFormats, TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { pino, type LoggerOptions } from 'pino'
import type { Config } from '../config/schema.ts'
import { systemClock, type Clock } from '../core/clock.ts'
import { ConnectionDrain } from '../core/connection-drain.ts'
import { statusText, toWire } from '../core/error-wire.ts'
import { errors } from '../core/errors.ts'
import { FailureBudget } from '../core/failure-budget.ts'
import { redactKeys } from '../core/key-format.ts'
import { requestId } from '../core/request-id.ts'
import type { KeyStore } from '../core/store/store.ts'
import { audit } from './audit.ts'
import { createAuditTrail } from './audit-trail.ts'
import { createCatalogCache } from './catalog.ts'
import { createKeyService, type KeyService } from './key-service.ts'
import { adminMetrics } from './metrics.ts'
import { AuthenticationFailure, createAuthenticator, type Principal } from './principal.ts'
import { adminApiKeyRoutes } from './routes/admin-api-keys.ts'
import { apiKeyRoutes } from './routes/api-keys.ts'
import { adminAuditRoutes, auditEventRoutes } from './routes/audit-events.ts'
import { meRoutes } from './routes/me.ts'
import { userRoutes } from './routes/users.ts'
import { ErrorBody, Health, ok, type ErrorView } from './schemas.ts'
import { consoleConfig, registerConsole, type ConsoleOptions } from './console.ts'
import type { AuthorizationServerOptions } from './oauth/provider.ts'

/** What `mcpgate start` reaches on the admin app: SIGHUP reloads servers and access rules. */
export interface AdminControl {
  reload (config: Readonly<Config>): void
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the /api onRequest hook; every /api handler runs with a principal. */
    adminPrincipal: Principal
  }
  interface FastifyInstance {
    mcpgateAdmin: AdminControl
  }
}

export interface AdminDeps {
  store: KeyStore
  clock?: Clock
  /** A pino logger; build it with adminLoggerOptions() so credentials are redacted. */
  logger?: FastifyBaseLogger
  /** Overrides config.admin.token. */
  adminToken?: string
  /** Minimum time between JWKS refetches triggered by an unknown `kid` (default 30 s). */
  jwksCooldownMs?: number
  /** Reuse an existing key service (the CLI's); by default one is made from store/config/clock. */
  service?: KeyService
  /** OAuth mode: how client ID metadata documents are fetched (tests serve them without a network). */
  oauthFetch?: AuthorizationServerOptions['fetch']
  /** OAuth mode: how those documents' hosts resolve for the SSRF guard (tests; default DNS). */
  oauthResolve?: AuthorizationServerOptions['resolve']
  /** The web console at `/` (default: console/dist); `false` leaves it out. */
  console?: ConsoleOptions | false
}

const RETRY_AFTER_SECONDS = '5'

/** Logger settings for the admin API: credential headers and key material are never written. */
export function adminLoggerOptions (config: Readonly<Config>): LoggerOptions {
  return {
    level: config.log.level,
    base: { service: 'mcpgate-admin' },
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers["x-api-key"]',
        'req.headers.cookie',
        'headers.authorization',
        'headers["x-api-key"]',
        'headers.cookie',
        'key',
        '*.key',
        'secretHash',
        '*.secretHash'
      ],
      censor: '[redacted]'
    },
    serializers: { req: requestForLog }
  }
}

/**
 * Fastify's request fields, with the path instead of the URL: a query string is the client's
 * business and may carry a credential (`?token=…`), and a key pasted into the path is masked.
 */
function requestForLog (request: { method: string, url: string, host?: string, ip?: string, socket?: { remotePort?: number } }) {
  const q = request.url.indexOf('?')
  const path = redactKeys(q < 0 ? request.url : request.url.slice(0, q)).slice(0, 200)
  return { method: request.method, url: path, host: request.host, remoteAddress: request.ip, remotePort: request.socket?.remotePort }
}

function validationMessage (err: FastifyError): string {
  const list = err.validation ?? []
  const where = err.validationContext === 'querystring' ? 'query ' : err.validationContext === 'params' ? 'path ' : ''
  // A JSON pointer as the field reads in our messages: `scopes.github.tools[2]`.
  const name = (path: string) => path.split('/').slice(1).map(seg => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((out, seg) => out === '' ? seg : /^\d+$/.test(seg) ? `${out}[${seg}]` : `${out}.${seg}`, '')
  for (const e of list) {
    const params = e.params as Record<string, unknown>
    if (e.keyword === 'additionalProperties') {
      const extra = Array.isArray(params.additionalProperties) ? String(params.additionalProperties[0]) : '?'
      const parent = name(e.instancePath)
      return `${where}${parent === '' ? extra : `${parent}.${extra}`}: unknown field`
    }
    if (e.keyword === 'minProperties') return `${where}(${err.validationContext ?? 'body'}): must contain at least one field`
    if (e.keyword === 'required') {
      const missing = Array.isArray(params.requiredProperties) ? String(params.requiredProperties[0]) : String(params.missingProperty ?? '?')
      return `${where}${missing}: is required`
    }
  }
  // Skip the summary keywords of unions: the first concrete problem names the field best.
  const e = list.find(x => x.keyword !== 'anyOf' && x.keyword !== 'boolean') ?? list[0]
  if (e === undefined) return err.message
  const field = name(e.instancePath)
  return `${where}${field === '' ? '(' + (err.validationContext ?? 'body') + ')' : field}: ${e.message ?? 'is invalid'}`
}

/**
 * Every error leaves in one shape, `{statusCode, code, error, message}` with a stable code; which
 * error gets which status and code is core/error-wire.ts's decision, shared with the gateway.
 */
function sendError (err: FastifyError | Error, request: FastifyRequest, reply: FastifyReply) {
  const wire = toWire(err, validationMessage)
  // Every 5xx, not only faults: a store or IdP outage is worth a line with its cause.
  if (wire.statusCode >= 500) request.log.error({ err }, 'admin request failed')
  if (wire.statusCode === 401) {
    const invalid = wire.code === 'MCPGATE_TOKEN_INVALID' || wire.code === 'MCPGATE_API_KEY_NOT_ACCEPTED'
    reply.header('www-authenticate', `Bearer realm="mcpgate-admin"${invalid ? ', error="invalid_token"' : ''}`)
  }
  if (wire.statusCode === 503) reply.header('retry-after', RETRY_AFTER_SECONDS)
  const body: ErrorView = { statusCode: wire.statusCode, code: wire.code, error: statusText(wire.statusCode), message: wire.message }
  return reply.code(wire.statusCode).type('application/json; charset=utf-8').send(body)
}

export async function buildAdmin (config: Readonly<Config>, deps: AdminDeps): Promise<FastifyInstance> {
  const { store } = deps
  const clock = deps.clock ?? systemClock
  const service = deps.service ?? createKeyService({ store, config, clock })
  const authenticator = createAuthenticator({
    config,
    store,
    clock,
    ...(deps.adminToken === undefined ? {} : { adminToken: deps.adminToken }),
    ...(deps.jwksCooldownMs === undefined ? {} : { jwksCooldownMs: deps.jwksCooldownMs })
  })
  // Failed authentications per client IP (request.ip: the socket's address, or X-Forwarded-For
  // with admin.trustProxy). Without it anyone who reaches the port could guess admin tokens as
  // fast as the server answers.
  const authFailures = new FailureBudget(config.admin.authFailuresPerIp, config.admin.authFailureWindowMs, clock)
  // `date-time` and friends for the TypeBox validator (idempotent, process-wide registry).
  registerAjvFormats()

  const app = Fastify({
    loggerInstance: deps.logger ?? pino(adminLoggerOptions(config)),
    // A caller's X-Request-Id is kept only when well-formed (1-128 of [A-Za-z0-9._:-], so it
    // cannot inject into a log line), else a UUID. It correlates; audit lines also name the
    // actor and IP, so a chosen id cannot make one caller's change look like another's.
    genReqId: requestId,
    trustProxy: config.admin.trustProxy,
    bodyLimit: 64 * 1024,
    // Also bounds each close step (default 10 s), the drain in preClose included: past the grace and cli's margin.
    pluginTimeout: config.gateway.shutdownGraceMs + 10_000,
    return503OnClosing: true
  }).withTypeProvider<TypeBoxTypeProvider>()

  // Shutdown: stop accepting, close connections that carry no request (browsers pre-connect, and
  // server.close() would wait for them), give in-flight requests gateway.shutdownGraceMs at most.
  const drain = new ConnectionDrain(app.server)
  app.addHook('preClose', async () => { await drain.close(config.gateway.shutdownGraceMs) })

  // TypeBox validator: bodies are checked as sent (no coercion, unknown fields rejected rather
  // than silently dropped as Fastify's default Ajv would); query and path params are converted
  // from strings first.
  app.setValidatorCompiler(TypeBoxValidatorCompiler)
  app.addSchema(ErrorBody)
  app.decorateRequest('adminPrincipal', null as never)
  app.setErrorHandler(sendError)
  app.setNotFoundHandler((request, reply) => {
    sendError(new errors.RouteNotFound(request.method, request.url.split('?')[0]), request, reply)
  })
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id)
  })
  adminMetrics(app)
  // SIGHUP (cli/serve.ts): the servers and their access rules reload, and in OAuth mode the
  // signing keys are read again (oauth.signingKeyFile rotated in place).
  let reloadSigningKeys = (): void => {}
  const control: AdminControl = {
    reload: next => {
      service.reloadServers(next.servers)
      reloadSigningKeys()
    }
  }
  // Upstream catalogs for the key form's picker, per server config (a reload starts afresh).
  const catalog = createCatalogCache({ cacheMs: config.admin.catalog.cacheMs, timeoutMs: config.admin.catalog.timeoutMs, clock })
  app.decorate('mcpgateAdmin', control)

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'mcpgate admin API',
        version: '1',
        description: 'Users and API keys of the mcpgate MCP gateway. Authenticate with the bootstrap admin token or an OIDC JWT as a Bearer token; API keys are refused here.'
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'bootstrap admin token, or a JWT from the configured OIDC issuer' }
        }
      },
      security: [{ bearer: [] }],
      tags: [
        { name: 'api-keys', description: 'your own API keys' },
        { name: 'me', description: 'the caller' },
        { name: 'admin', description: 'admin role required' },
        { name: 'audit', description: 'the gateway\'s audit trail: admins every event, users their own keys\' events' },
        { name: 'health', description: 'probes' }
      ]
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}`
    }
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())

  app.get('/healthz', {
    schema: { tags: ['health'], summary: 'Liveness', security: [], response: { 200: ok(Health, 'Alive') } }
  }, async () => ({ status: 'ok' }))

  app.get('/readyz', {
    schema: { tags: ['health'], summary: 'Readiness: the store answers', security: [], response: { 200: ok(Health, 'Ready'), 503: { $ref: 'Error', description: 'store unavailable' } } }
  }, async () => {
    await store.ping()
    return { status: 'ready' }
  })

  await app.register(async api => {
    api.addHook('onRequest', async (request, reply) => {
      // Responses may carry a freshly minted key: never let a cache keep them.
      reply.header('cache-control', 'no-store')
      // Checked before the authenticator runs, so a spent budget stops guesses even with the right token.
      const retryAfter = authFailures.retryAfter(request.ip)
      if (retryAfter > 0) {
        audit(request, 'admin.rate_limited', { reason: 'too many failed authentications from this IP' }, null)
        reply.header('retry-after', String(retryAfter))
        throw new errors.RateLimited('too many failed authentications from this address; retry later')
      }
      try {
        const { principal, change } = await authenticator.authenticate(request.headers)
        request.adminPrincipal = principal
        if (change !== undefined && principal.user !== null) {
          audit(request, change.event, { userId: principal.user.id, email: principal.user.email, fields: change.fields, reason: 'oidc sign-in' })
        }
      } catch (err) {
        if (err instanceof AuthenticationFailure) {
          // Only a credential checked and found wrong (a bad admin token, a JWT refused as
          // invalid or expired) spends the budget. Not counted: no credentials and API keys (no
          // secret was compared, nothing guessed), 403s (the caller did authenticate), 503s (IdP
          // or store down, thrown as other errors: not the caller's doing). Counted after the
          // fact: a token that is no JWT fails without I/O, so it is counted before the next
          // request is read; a JWT-shaped guess with OIDC on fails only after an await, so
          // guesses in flight together can overrun the budget by their number.
          if (err.error instanceof errors.TokenInvalid) authFailures.fail(request.ip)
          audit(request, 'admin.auth_failed', { reason: err.reason }, null)
          throw err.error
        }
        throw err
      }
    })

    await api.register(apiKeyRoutes, { service })
    await api.register(meRoutes, { service, catalog })
    const trail = createAuditTrail({ store, clock, limits: config.gateway.limits })
    await api.register(auditEventRoutes, { trail })

    await api.register(async adminOnly => {
      adminOnly.addHook('onRequest', async request => {
        if (request.adminPrincipal.role !== 'admin') {
          audit(request, 'admin.forbidden', { reason: `${request.method} ${request.routeOptions.url ?? ''}` })
          throw new errors.Forbidden()
        }
      })
      await adminOnly.register(adminApiKeyRoutes, { service })
      await adminOnly.register(adminAuditRoutes, { trail })
      await adminOnly.register(userRoutes, { service })
    })
  })

  if (config.oauth.enabled) {
    // Loaded only in OAuth mode: oidc-provider (and its Koa) stays out of a key-only admin API.
    const { oauthRoutes } = await loadingQuietly(app.log, async () => await import('./oauth/routes.ts'))
    const { SigningKeySource } = await import('./oauth/signing-keys.ts')
    // Reads oauth.signingKeyFile now: a broken one refuses the start (ConfigError).
    const signingKeys = new SigningKeySource({
      config,
      store,
      clock,
      onReloadFailed: err => { app.log.error({ err }, 'oauth: the signing keys could not be read again; signing with the previous ones') }
    })
    reloadSigningKeys = () => { signingKeys.reload() }
    await app.register(oauthRoutes, {
      signingKeys,
      config,
      store,
      clock,
      service,
      gatewayBase: consoleConfig(config).gatewayUrl,
      failures: authFailures,
      ...(deps.oauthFetch === undefined ? {} : { fetch: deps.oauthFetch }),
      ...(deps.oauthResolve === undefined ? {} : { resolve: deps.oauthResolve }),
      // The consent page's caller, resolved as /api's are.
      authenticate: async request => {
        try {
          return (await authenticator.authenticate(request.headers)).principal
        } catch (err) {
          if (err instanceof AuthenticationFailure) {
            if (err.error instanceof errors.TokenInvalid) authFailures.fail(request.ip)
            throw err.error
          }
          throw err
        }
      }
    })
  }
  if (deps.console !== false) await registerConsole(app, config, deps.console ?? {})
  return app
}

/**
 * oidc-provider prints its notices with console.warn when it is imported ("Unsupported runtime"
 * on Node 20, where mcpgate runs it and is tested): a raw line in a JSON log. They go into the log
 * as structured warn lines instead.
 */
async function loadingQuietly<T> (log: FastifyBaseLogger, load: () => Promise<T>): Promise<T> {
  const warn = console.warn
  console.warn = (...args: unknown[]) => { log.warn({ notice: args.map(String).join(' ') }, 'oauth: a notice from oidc-provider') }
  try {
    return await load()
  } finally {
    console.warn = warn
  }
}
