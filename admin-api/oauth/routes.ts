// The authorization server on the admin API's port (OAuth mode): oidc-provider answers its own
// paths (/oauth/* and the discovery documents, RFC 8414 and OpenID); the interaction paths are
// ours: the browser is sent to the console's consent page, which reads the request and answers it
// as the signed-in user (the console's own sign-in through admin.oidc, its bearer token here).
//
// The interaction endpoints sit under /oauth/interaction/<uid>/, where oidc-provider's interaction
// cookie is sent: only the browser that started an authorization can consent to it (a link to
// someone else's consent page finds nothing).
import type { IncomingMessage } from 'node:http'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Type } from '@fastify/type-provider-typebox'
import type { Interaction } from 'oidc-provider'
import type { Config } from '../../config/schema.ts'
import type { Clock } from '../../core/clock.ts'
import { FailureBudget } from '../../core/failure-budget.ts'
import { LowPriorityVerifier } from '../../core/low-priority-verifier.ts'
import { errors, StoreUnavailableError } from '../../core/errors.ts'
import { endpointUrl, serverIdOfEndpoint } from '../../core/oauth.ts'
import type { ApiKeyRecord, KeyStore, Page } from '../../core/store/store.ts'
import type { KeyService } from '../key-service.ts'
import type { Principal } from '../principal.ts'
import { KeyScopes } from '../schemas.ts'
import { createAuthorizationServer, MCP_SCOPE, OAUTH_ROUTES, type AuthorizationServer, type AuthorizationServerOptions } from './provider.ts'
import type { SigningKeySource } from './signing-keys.ts'

export interface OAuthRoutesOptions {
  config: Readonly<Config>
  store: KeyStore
  clock: Clock
  service: KeyService
  /** The admin API's caller resolution (admin token or OIDC JWT); throws its own errors. */
  authenticate: (request: FastifyRequest) => Promise<Principal>
  /** The gateway's external base URL. */
  gatewayBase: string
  /**
   * The admin API's failed-authentication budget per client IP: a wrong key as a client_secret
   * counts against it, and a spent budget answers the token endpoint 429, before any argon2.
   */
  failures: FailureBudget
  fetch?: AuthorizationServerOptions['fetch']
  resolve?: AuthorizationServerOptions['resolve']
  /** The keys tokens are signed with, read again every 30 s: a rotation builds a new provider. */
  signingKeys: SigningKeySource
}

const ConsentBody = Type.Object({
  mcpServerIds: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 100 }),
  scopes: Type.Optional(KeyScopes)
}, { additionalProperties: false })

/** The issuer when none is configured: admin.publicUrl, else this listening server's address. */
function issuerOf (config: Readonly<Config>, app: FastifyInstance): string {
  const configured = config.oauth.issuer ?? config.admin.publicUrl
  if (configured !== undefined) return configured.replace(/\/+$/, '')
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : config.admin.port
  const host = config.admin.host === '0.0.0.0' || config.admin.host === '::' ? '127.0.0.1' : config.admin.host
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`
}

const HOUR_MS = 3_600_000

export async function oauthRoutes (app: FastifyInstance, options: OAuthRoutesOptions): Promise<void> {
  const { config, store, service } = options
  // Open registration writes a client record for anyone who asks (and it stays): each address
  // gets oauth.registrationsPerIpPerHour of them, counted per admin replica.
  const registrations = new FailureBudget(config.oauth.registrationsPerIpPerHour, HOUR_MS, options.clock)
  // Keys sent as a client_secret are verified at nice 19 (`mcpgate start` shares the process
  // with the gateway, whose traffic keeps the CPU), as the gateway verifies its own.
  const verifier = new LowPriorityVerifier(1)
  app.addHook('onClose', async () => { await verifier.close() })
  /** Each request handed to oidc-provider, with its client IP as the admin API resolves it (trustProxy). */
  const callerIps = new WeakMap<IncomingMessage, string>()
  let as: AuthorizationServer | null = null
  let starting: { signingKeysId: string, built: Promise<AuthorizationServer> } | null = null
  // Built once the port is known (the issuer may be this server's own address); at listen, so
  // the issuer is published for the gateway before the first client asks. Built again when the
  // signing keys changed (a rotation, a new key file): requests in flight finish on the old one.
  const server = async (): Promise<AuthorizationServer> => {
    const signingKeys = await options.signingKeys.current()
    if (as !== null && as.signingKeysId === signingKeys.id) return as
    if (starting !== null && starting.signingKeysId === signingKeys.id) return await starting.built
    const built = createAuthorizationServer({
      config,
      store,
      clock: options.clock,
      issuer: issuerOf(config, app),
      signingKeys,
      gatewayBase: options.gatewayBase,
      serverExists: id => service.hasServer(id),
      keyReaches: (ids, owner, id) => service.keyReaches(ids, owner, id),
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
      ...(options.resolve === undefined ? {} : { resolve: options.resolve }),
      onError: err => { app.log.error({ err }, 'oauth: authorization server error') },
      verifySecret: async (phc, secret) => await verifier.verify(phc, secret),
      clientAuthFailed: req => {
        const ip = callerIps.get(req)
        if (ip !== undefined) options.failures.fail(ip)
      }
    }).then(done => {
      // A slower build for keys replaced meanwhile does not replace a newer one.
      if (starting?.built === built) {
        as = done
        starting = null
      }
      return done
    }, (err: unknown) => {
      if (starting?.built === built) starting = null
      throw err
    })
    starting = { signingKeysId: signingKeys.id, built }
    return await built
  }
  // A configured issuer (or a fixed port) is known before listening: ready with the app. Port 0
  // (tests) is known only once listening; fastify does not wait for onListen hooks, so the
  // issuer reaches the store a moment after listen() returns.
  if (config.oauth.issuer !== undefined || config.admin.publicUrl !== undefined || config.admin.port !== 0) {
    app.addHook('onReady', async () => { await server() })
  } else {
    app.addHook('onListen', async () => { await server() })
  }
  // The consent page is the console's: without a console client id nobody can sign in to it.
  if (config.admin.oidc?.clientId === undefined) app.log.warn('oauth.enabled without admin.oidc.clientId: the console cannot sign users in, so nobody can consent to a client')

  await app.register(async function providerPaths (scope) {
    // oidc-provider reads the request body itself: Fastify leaves it unread.
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('*', (_request, _payload, done) => { done(null) })
    const handle = async (request: FastifyRequest, reply: FastifyReply, url?: string) => {
      const { provider } = await server()
      if (request.url.startsWith(OAUTH_ROUTES.token)) {
        // client_credentials verifies an API key (argon2): a spent budget is refused before that.
        const retryAfter = options.failures.retryAfter(request.ip)
        if (retryAfter > 0) {
          reply.header('retry-after', String(retryAfter))
          throw new errors.RateLimited('too many failed client authentications from this address; retry later')
        }
      } else if (request.method === 'POST' && request.url.startsWith(OAUTH_ROUTES.registration)) {
        const retryAfter = registrations.retryAfter(request.ip)
        if (retryAfter > 0) {
          reply.header('retry-after', String(retryAfter))
          throw new errors.RateLimited(`more than ${config.oauth.registrationsPerIpPerHour} client registrations from this address in an hour (oauth.registrationsPerIpPerHour); retry later`)
        }
        registrations.fail(request.ip)
      }
      callerIps.set(request.raw, request.ip)
      if (url !== undefined) request.raw.url = url
      reply.hijack()
      provider.callback()(request.raw, reply.raw)
    }
    // oidc-provider documents these itself (its metadata): not in the admin API's OpenAPI.
    const hidden = { schema: { hide: true } }
    scope.all('/.well-known/openid-configuration', hidden, (request, reply) => handle(request, reply))
    // RFC 8414: the same document where OAuth clients (the MCP SDK first) look for it.
    scope.get('/.well-known/oauth-authorization-server', hidden, (request, reply) => handle(request, reply, '/.well-known/openid-configuration'))
    for (const path of new Set(Object.values(OAUTH_ROUTES))) {
      scope.all(path, hidden, (request, reply) => handle(request, reply))
      scope.all(`${path}/*`, hidden, (request, reply) => handle(request, reply))
    }
  })

  /** The pending authorization of this browser (its interaction cookie), or 404. */
  async function interaction (request: FastifyRequest<{ Params: { uid: string } }>, reply: FastifyReply): Promise<{ as: AuthorizationServer, details: Interaction }> {
    const current = await server()
    let details: Interaction
    try {
      details = await current.provider.interactionDetails(request.raw, reply.raw)
    } catch (err) {
      // The store down is a 503 (retry), not a lost authorization.
      if (err instanceof StoreUnavailableError) throw err
      throw new errors.OAuthInteractionNotFound()
    }
    if (details.uid !== request.params.uid) throw new errors.OAuthInteractionNotFound()
    return { as: current, details }
  }

  async function userOf (request: FastifyRequest) {
    const principal = await options.authenticate(request)
    if (principal.user === null) throw new errors.NoUserAccount()
    return principal.user
  }

  // The provider sends the browser here; the console's consent page takes it from there.
  app.get<{ Params: { uid: string } }>('/oauth/interaction/:uid', { schema: { hide: true } }, async (request, reply) => {
    reply.header('cache-control', 'no-store')
    return reply.redirect(`/#/oauth/consent?uid=${encodeURIComponent(request.params.uid)}`, 303)
  })

  /** The signed-in user and what this browser's pending authorization asks: the client and the endpoints. */
  async function pendingConsent (request: FastifyRequest<{ Params: { uid: string } }>, reply: FastifyReply) {
    const user = await userOf(request)
    const { as, details } = await interaction(request, reply)
    const clientId = String(details.params.client_id ?? '')
    const client = await as.provider.Client.find(clientId)
    if (client === undefined) throw new errors.OAuthInteractionNotFound()
    const redirectUri = String(details.params.redirect_uri ?? client.redirectUris[0] ?? '')
    const shown = { clientId, clientName: client.clientName ?? clientId, redirectHost: hostOf(redirectUri) }
    return { user, as, details, client: shown, resources: resourcesOf(details.params.resource) }
  }

  app.get<{ Params: { uid: string } }>('/oauth/interaction/:uid/details', { schema: { hide: true } }, async (request, reply) => {
    reply.header('cache-control', 'no-store')
    const { user, as, details, client, resources } = await pendingConsent(request, reply)
    const serverIds = resources.map(r => serverIdOfEndpoint(options.gatewayBase, r)).filter((id): id is string => id !== null)
    return {
      /** Grants of this user to this client for these endpoints that allowing replaces. */
      replaces: (await grantsReplacedBy(as, user.id, client.clientId, resources)).length,
      uid: details.uid,
      client: { id: client.clientId, name: client.clientName, redirectHost: client.redirectHost },
      resources,
      serverIds,
      user: { id: user.id, email: user.email, name: user.name },
      grantTtlDays: config.oauth.grantTtlDays
    }
  })

  app.post<{ Params: { uid: string }, Body: { mcpServerIds: string[], scopes?: Record<string, unknown> } }>('/oauth/interaction/:uid/consent', {
    schema: { hide: true, body: ConsentBody }
  }, async (request, reply) => {
    reply.header('cache-control', 'no-store')
    const { user, as, details, client, resources } = await pendingConsent(request, reply)
    const { clientId } = client
    // The endpoint the token will be for must be one the grant reaches.
    const picked = request.body.mcpServerIds
    for (const r of resources) {
      const id = serverIdOfEndpoint(options.gatewayBase, r)
      if (id === null || r !== endpointUrl(options.gatewayBase, id)) throw new errors.ValidationFailed(`resource: ${r} is not an MCP endpoint of this gateway`)
      if (!picked.includes('*') && !picked.includes(id)) throw new errors.ValidationFailed(`mcpServerIds: must include "${id}", the server ${client.clientName} asked for`)
    }
    // Consenting again to the same client for the same endpoints replaces the grant it had: a
    // client that lost its tokens (reinstalled, signed out) leaves no live grant behind, and
    // reconnecting does not pile grants up to admin.maxKeysPerUser.
    const superseded = await grantsReplacedBy(as, user.id, clientId, resources)
    const grant = {
      oauth: client,
      mcpServerIds: picked,
      scopes: request.body.scopes,
      expiresAt: options.clock.now() + as.grantTtlSeconds * 1000
    }
    let key
    try {
      key = await service.createGrant(user.id, grant)
    } catch (err) {
      // At the key limit, the grant being replaced makes the room.
      if (!(err instanceof errors.KeyLimitReached) || superseded.length === 0) throw err
      for (const id of superseded.splice(0)) await store.deleteKey(id)
      key = await service.createGrant(user.id, grant)
    }
    let redirectTo: string
    try {
      const grant = new as.provider.Grant({ jti: key.id, accountId: user.id, clientId })
      for (const r of resources) grant.addResourceScope(r, MCP_SCOPE)
      const requested = String(details.params.scope ?? '').split(' ')
      // 'mcp' is a scope of the provider too (clients register with it), so it is granted as one.
      const oidcScopes = requested.filter(s => s === 'openid' || s === 'offline_access' || s === MCP_SCOPE)
      if (oidcScopes.length > 0) grant.addOIDCScope(oidcScopes.join(' '))
      await grant.save(as.grantTtlSeconds)
      redirectTo = await as.provider.interactionResult(request.raw, reply.raw, {
        login: { accountId: user.id },
        consent: { grantId: key.id }
      }, { mergeWithLastSubmission: false })
    } catch (err) {
      // No key record is left behind for a grant that was never made.
      await store.deleteKey(key.id).catch(() => {})
      throw err
    }
    // Deleted like a key: the gateway refuses its tokens, and its refresh tokens end with it.
    for (const id of superseded) await store.deleteKey(id)
    return { redirectTo, keyId: key.id, replaced: superseded }
  })

  /** The user's grants to this client for exactly these endpoints (what a new consent replaces). */
  async function grantsReplacedBy (as: AuthorizationServer, userId: string, clientId: string, resources: readonly string[]): Promise<string[]> {
    const wanted = [...new Set(resources)].sort().join(' ')
    const found: string[] = []
    let cursor: string | null = null
    do {
      const page: Page<ApiKeyRecord> = await store.listKeys({ userId, limit: 100, cursor })
      for (const key of page.items) {
        if (key.oauth?.clientId !== clientId) continue
        const grant = await as.provider.Grant.find(key.id)
        if (grant !== undefined && Object.keys(grant.resources ?? {}).sort().join(' ') === wanted) found.push(key.id)
      }
      cursor = page.nextCursor
    } while (cursor !== null)
    return found
  }

  app.post<{ Params: { uid: string } }>('/oauth/interaction/:uid/deny', { schema: { hide: true } }, async (request, reply) => {
    reply.header('cache-control', 'no-store')
    await userOf(request)
    const { as } = await interaction(request, reply)
    const redirectTo = await as.provider.interactionResult(request.raw, reply.raw, {
      error: 'access_denied',
      error_description: 'the user did not allow this client'
    }, { mergeWithLastSubmission: false })
    return { redirectTo }
  })
}

function resourcesOf (value: unknown): string[] {
  if (typeof value === 'string') return [value]
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string')
  return []
}

function hostOf (uri: string): string {
  try {
    const url = new URL(uri)
    return url.host === '' ? url.protocol.replace(/:$/, '') : url.host
  } catch {
    return ''
  }
}
