// mcpgate's OAuth 2.1 authorization server (OAuth mode), on oidc-provider (certified OpenID
// provider; we configure it, we do not reimplement it): authorization code with PKCE S256 only,
// resource indicators (RFC 8707) naming one gateway endpoint per token, JWT access tokens bound to
// it (RFC 9068), rotating refresh tokens whose reuse revokes the grant, dynamic client registration
// (RFC 7591), Client ID Metadata Documents, `iss` in the authorization response (RFC 9207) and
// client_credentials where the client is an API key.
//
// Every grant is an API key record owned by the user (key id = grant id, see adapter.ts): the
// access token names it (KEY_CLAIM) and the gateway resolves it as it resolves a key, so scopes,
// the owner's live permissions, limits, audit, revocation and stream cuts are one path.
import type { IncomingMessage } from 'node:http'
import Provider, { errors as oidcErrors, type AdapterPayload, type Configuration, type KoaContextWithOIDC } from 'oidc-provider'
import type { Config } from '../../config/schema.ts'
import type { Clock } from '../../core/clock.ts'
import { LRUCache } from 'lru-cache'
import { TokenBucket } from '../../core/guards.ts'
import { digestsEqual, keyDigest, verifySecret, type KeyDigest } from '../../core/hashing.ts'
import { isValidKeyId, parseKey } from '../../core/key-format.ts'
import { endpointUrl, KEY_CLAIM, publishIssuer, serverIdOfEndpoint, SIGNING_ALG } from '../../core/oauth.ts'
import type { KeyStore, User } from '../../core/store/store.ts'
import { StoreAdapter } from './adapter.ts'
import type { SigningKeys } from './signing-keys.ts'
import { mayFetchClientMetadata, type Resolve } from './ssrf-guard.ts'

/** The one scope of an MCP endpoint: a grant's reach is its key's servers and tools, not scopes. */
export const MCP_SCOPE = 'mcp'

const DAY_S = 86_400
const AUTHORIZATION_CODE_TTL_S = 60
const INTERACTION_TTL_S = 600
const SESSION_TTL_S = 3600
/** How long a key proved at the token endpoint is known without argon2 (its record is read each time). */
const PROVEN_TTL_MS = 3_600_000

export const OAUTH_ROUTES = {
  authorization: '/oauth/authorize',
  token: '/oauth/token',
  jwks: '/oauth/jwks',
  registration: '/oauth/register',
  revocation: '/oauth/revoke',
  end_session: '/oauth/logout',
  userinfo: '/oauth/userinfo',
  introspection: '/oauth/introspect',
  pushed_authorization_request: '/oauth/par',
  code_verification: '/oauth/device',
  device_authorization: '/oauth/device/auth',
  backchannel_authentication: '/oauth/backchannel',
  challenge: '/oauth/challenge'
}

export interface AuthorizationServerOptions {
  config: Readonly<Config>
  store: KeyStore
  clock: Clock
  /** The issuer: config.oauth.issuer, else admin.publicUrl, else the admin API's own address. */
  issuer: string
  /** The keys it signs with (the first) and publishes, and its cookie keys (signing-keys.ts). */
  signingKeys: SigningKeys
  /** The gateway's external base URL: resources are `<base>/mcp-connect/<id>`. */
  gatewayBase: string
  /** Whether a server id exists now (servers reload on SIGHUP). */
  serverExists: (id: string) => boolean
  /** Whether a key (its scope, its owner's current access) reaches a server: client_credentials. */
  keyReaches: (mcpServerIds: readonly string[], owner: User, id: string) => boolean
  /** How client ID metadata documents are fetched (tests inject one; default fetch). */
  fetch?: Configuration['fetch']
  /** How a client ID metadata document's host is resolved for the SSRF guard (default DNS). */
  resolve?: Resolve
  /** oidc-provider's server errors, for the log. */
  onError?: (err: Error) => void
  /**
   * A client_credentials request whose client_secret is not its key (or not a key): the caller
   * counts it against the client's address, as a wrong admin credential is.
   */
  clientAuthFailed?: (req: IncomingMessage) => void
  /** How a key's secret is checked (argon2); the admin API passes its low-priority verifier. */
  verifySecret?: (phc: string, secret: string) => Promise<boolean>
}

export interface AuthorizationServer {
  readonly provider: Provider
  readonly issuer: string
  readonly grantTtlSeconds: number
  /** What it was built with: SigningKeys.id. */
  readonly signingKeysId: string
}

export async function createAuthorizationServer (options: AuthorizationServerOptions): Promise<AuthorizationServer> {
  const { config, store, gatewayBase } = options
  const oauth = config.oauth
  const { keys, cookieKeys } = options.signingKeys
  const refreshTtlS = oauth.refreshTokenTtlDays * DAY_S
  const grantTtlSeconds = oauth.grantTtlDays * DAY_S
  const verify = options.verifySecret ?? verifySecret
  // client_credentials verifies a key at every token request: a key proved once is known by its
  // digest (while its record's secret stays the same), and the argon2 work keys not proven cause
  // is bounded for all clients together, as the gateway bounds it (core/guards.ts).
  const proven = new LRUCache<string, { digest: KeyDigest, secretHash: string }>({ max: 10_000, ttl: PROVEN_TTL_MS })
  const unprovenRate = new TokenBucket(oauth.keyVerificationsPerSecond, options.clock)

  /** The machine client an API key is (client_credentials): client_id the key id, client_secret the whole key. */
  async function keyClient (id: string): Promise<AdapterPayload | undefined> {
    if (!isValidKeyId(id)) return undefined
    const ctx = Provider.ctx
    // Only the token endpoint authenticates clients with a secret; nothing else may find a key here.
    if (ctx === undefined || ctx.oidc.route !== 'token') return undefined
    const body = ctx.oidc.body ?? {}
    const secret = typeof body.client_secret === 'string' ? body.client_secret : basicSecret(ctx)
    if (secret === undefined) return undefined
    const refused = (): undefined => { options.clientAuthFailed?.(ctx.req); return undefined }
    const parsed = parseKey(secret)
    if (!parsed.ok || parsed.key.keyId !== id) return refused()
    const found = await store.getKeyWithOwner(id)
    if (found === null || found.key.oauth !== undefined || found.owner.id !== parsed.key.userId || found.owner.disabled) return refused()
    const now = options.clock.now()
    if (found.key.expiresAt !== null && found.key.expiresAt <= now) return refused()
    // The key's own verification (argon2 of its secret): only a caller holding the key gets a
    // client whose secret is that key, which oidc-provider then compares in constant time. A
    // rotated key's previous secret works until its overlap ends, as at the gateway.
    const hashes = [found.key.secretHash]
    if (found.key.previousSecretHash !== undefined && (found.key.previousUntil ?? 0) > now) hashes.push(found.key.previousSecretHash)
    const digest = keyDigest(secret)
    const known = proven.get(id)
    if (known === undefined || !hashes.includes(known.secretHash) || !digestsEqual(known.digest, digest)) {
      let matched: string | undefined
      for (const phc of hashes) {
        if (!unprovenRate.tryTake()) {
          ctx.set('retry-after', String(unprovenRate.retryAfter()))
          const busy = new oidcErrors.TemporarilyUnavailable('too many API keys to verify right now; retry shortly')
          Object.assign(busy, { status: 503, statusCode: 503, expose: true })
          throw busy
        }
        if (await verify(phc, parsed.key.secret)) {
          matched = phc
          break
        }
      }
      if (matched === undefined) return refused()
      proven.set(id, { digest, secretHash: matched })
    }
    return {
      client_id: id,
      client_secret: secret,
      client_name: found.key.name,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: typeof body.client_secret === 'string' ? 'client_secret_post' : 'client_secret_basic',
      scope: MCP_SCOPE
    }
  }

  const configuration: Configuration = {
    adapter: (model: string) => new StoreAdapter(model, { store, consumedTtlMs: refreshTtlS * 1000, keyClient }),
    clients: [],
    jwks: { keys: keys.map(k => ({ ...k })) as Array<Record<string, unknown>> },
    cookies: { keys: [...cookieKeys] },
    routes: OAUTH_ROUTES,
    // 'mcp' too: clients register with the scope the protected resource metadata lists.
    scopes: ['openid', 'offline_access', MCP_SCOPE],
    claims: { openid: ['sub'] },
    responseTypes: ['code'],
    // PKCE for every client, S256 only (oidc-provider knows no other method).
    pkce: { required: () => true },
    // The signing key is EC: ID tokens (a client that asks for openid) are signed with it too (the
    // first of the keys: oidc-provider keeps their order among equals).
    clientDefaults: { id_token_signed_response_alg: SIGNING_ALG, grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] },
    features: {
      devInteractions: { enabled: false },
      userinfo: { enabled: false },
      revocation: { enabled: true },
      registration: { enabled: oauth.dynamicRegistration, initialAccessToken: false },
      clientCredentials: { enabled: true },
      clientIdMetadataDocument: oauth.clientIdMetadataDocuments
        ? {
            enabled: true,
            ack: 'draft-02',
            // SSRF guard before any connection (ssrf-guard.ts); oidc-provider checks the socket too.
            allowFetch: async (_ctx: KoaContextWithOIDC, clientId: string) => await mayFetchClientMetadata(clientId, options.resolve)
          }
        : { enabled: false },
      resourceIndicators: {
        enabled: true,
        // A refresh (and a code exchange without `resource`) keeps the one granted endpoint.
        defaultResource: async (_ctx: KoaContextWithOIDC, _client: unknown, oneOf?: string[]) => oneOf?.[0],
        useGrantedResource: async () => true,
        getResourceServerInfo: async (ctx: KoaContextWithOIDC, resource: string) => {
          const id = serverIdOfEndpoint(gatewayBase, resource)
          const refused = () => new oidcErrors.InvalidTarget(`resource must be a gateway endpoint, ${endpointUrl(gatewayBase, '<server id>')}, that the grant reaches`)
          if (id === null || !options.serverExists(id) || resource !== endpointUrl(gatewayBase, id)) throw refused()
          // A key (client_credentials) gets tokens only for servers it reaches, refused as an
          // unknown server is (no existence oracle), instead of a token every request refuses.
          // A grant's endpoints were picked at consent (routes.ts); a refresh keeps them.
          if (ctx.oidc.params?.grant_type === 'client_credentials') {
            const found = ctx.oidc.client === undefined ? null : await store.getKeyWithOwner(ctx.oidc.client.clientId)
            if (found === null || !options.keyReaches(found.key.mcpServerIds, found.owner, id)) throw refused()
          }
          return {
            scope: MCP_SCOPE,
            audience: resource,
            accessTokenTTL: oauth.accessTokenTtlSeconds,
            accessTokenFormat: 'jwt',
            // The first key signs; the others only verify (retired by a rotation).
            jwt: { sign: keys[0]?.kid === undefined ? { alg: SIGNING_ALG } : { alg: SIGNING_ALG, kid: keys[0].kid } }
          }
        }
      }
    },
    ttl: {
      AccessToken: oauth.accessTokenTtlSeconds,
      ClientCredentials: oauth.accessTokenTtlSeconds,
      AuthorizationCode: AUTHORIZATION_CODE_TTL_S,
      RefreshToken: refreshTtlS,
      Grant: grantTtlSeconds,
      Interaction: INTERACTION_TTL_S,
      Session: SESSION_TTL_S
    },
    // MCP clients do not ask for offline_access; every client allowed the grant type gets one.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    // Rotated at every use; a used one presented again revokes the grant (adapter.ts).
    rotateRefreshToken: true,
    // A grant outlives the sign-in that made it (the browser session is short).
    expiresWithSession: async () => false,
    interactions: { url: (_ctx, interaction) => `/oauth/interaction/${interaction.uid}` },
    // An error the client cannot be told through its redirect URI (an unknown client, a redirect
    // URI it did not register): a plain page for the person in front of the browser.
    async renderError (ctx, out) {
      ctx.type = 'html'
      ctx.body = '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign-in failed · mcpgate</title></head>' +
        '<body style="font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;line-height:1.5">' +
        `<h1 style="font-size:1.25rem">This sign-in cannot continue</h1><p>${escapeHtml(out.error_description ?? out.error ?? 'error')}</p>` +
        `<p style="color:#666">Code: ${escapeHtml(out.error ?? 'error')}. Start again from the application you were connecting.</p></body></html>`
    },
    async findAccount (_ctx, sub) {
      const user = await store.getUser(sub)
      if (user === null || user.disabled) return undefined
      return { accountId: user.id, claims: async () => ({ sub: user.id }) }
    },
    // Every authorization shows the consent page (a grant is a key the user picks the reach of);
    // only the grant the consent just made is loaded.
    async loadExistingGrant (ctx) {
      const id = ctx.oidc.result?.consent?.grantId
      return id === undefined ? undefined : await ctx.oidc.provider.Grant.find(id)
    },
    async extraTokenClaims (_ctx, token) {
      if (token.kind === 'ClientCredentials') return { [KEY_CLAIM]: token.clientId }
      if (token.kind !== 'AccessToken' || token.grantId === undefined) return undefined
      // A refresh after the key was deleted (console, API, CLI) issues nothing.
      const key = await store.getKey(token.grantId)
      if (key === null || key.oauth === undefined) throw new oidcErrors.InvalidGrant('the grant was revoked')
      if (key.expiresAt !== null && key.expiresAt <= options.clock.now()) throw new oidcErrors.InvalidGrant('the grant has expired')
      return { [KEY_CLAIM]: token.grantId }
    }
  }
  if (options.fetch !== undefined) configuration.fetch = options.fetch

  const provider = new Provider(options.issuer, configuration)
  provider.proxy = config.admin.trustProxy
  if (options.onError !== undefined) {
    const report = options.onError
    provider.on('server_error', (_ctx: unknown, err: Error) => { report(err) })
  }
  await publishIssuer(store, options.issuer)
  return { provider, issuer: options.issuer, grantTtlSeconds, signingKeysId: options.signingKeys.id }
}

/** The secret of `Authorization: Basic` (client_secret_basic), form-decoded as RFC 6749 §2.3.1 says. */
function basicSecret (ctx: KoaContextWithOIDC): string | undefined {
  const header = ctx.req.headers.authorization
  if (typeof header !== 'string' || !/^basic /i.test(header)) return undefined
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) return undefined
  try {
    return decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '))
  } catch {
    return undefined
  }
}

function escapeHtml (s: string): string {
  return s.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`)
}
