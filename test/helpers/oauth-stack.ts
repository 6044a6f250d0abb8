// OAuth mode end to end, without a browser: a real MCP upstream, a real store, the gateway and the
// admin API (the authorization server) with oauth.enabled on port 0, users signing in with JWTs of
// a local OIDC issuer (helpers/oidc.ts); an MCP SDK OAuthClientProvider that keeps what the SDK
// gives it; and a cookie-keeping "browser" that follows the authorization redirects and answers
// the consent as the console does (GET …/details, POST …/consent with the user's bearer token).
import type { Test } from 'tap'
import { pino } from 'pino'
import type { FastifyInstance } from 'fastify'
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js'
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js'
import { buildAdmin, type AdminDeps } from '../../admin-api/app.ts'
import { buildGateway } from '../../gateway/app.ts'
import { buildConfig } from '../../config/load.ts'
import type { Config } from '../../config/schema.ts'
import type { KeyStore } from '../../core/store/store.ts'
import { startMcpUpstream, type McpUpstream } from './mcp-upstream.ts'
import { startOidcIssuer, type OidcIssuer } from './oidc.ts'
import type { RedisHandle } from './redis-server.ts'
import { redisStore, sqliteStore, testRedis } from './stores.ts'

export const OAUTH_ADMIN_TOKEN = 'oauth-test-admin-token-0123456789'

export interface OAuthStack {
  idp: OidcIssuer
  upstream: McpUpstream
  store: KeyStore
  /** The redis-server of a Redis store (inspection). */
  redis?: RedisHandle
  gateway: FastifyInstance
  admin: FastifyInstance
  gatewayUrl: string
  adminUrl: string
  /** The admin API's config (with the gateway's public URL). */
  config: Readonly<Config>
  mcpUrl (serverId: string): string
}

export interface OAuthStackOptions {
  store?: 'sqlite' | 'redis'
  /** Merged into config.oauth. */
  oauth?: Record<string, unknown>
  servers?: (upstreamUrl: string) => unknown[]
  oauthFetch?: AdminDeps['oauthFetch']
  oauthResolve?: AdminDeps['oauthResolve']
  /** The admin API's clock (grants' expiry); the gateway keeps wall time unless gatewayClock says. */
  adminClock?: AdminDeps['clock']
  /** The gateway's clock (token expiry, signing key retention). */
  gatewayClock?: AdminDeps['clock']
  /** Merged into the admin API's config.admin. */
  admin?: Record<string, unknown>
}

function urlOf (app: FastifyInstance): string {
  const address = app.server.address() as { port: number }
  return `http://127.0.0.1:${address.port}`
}

export async function startOAuthStack (t: Test, opts: OAuthStackOptions = {}): Promise<OAuthStack> {
  const idp = await startOidcIssuer()
  t.teardown(() => idp.close())
  const upstream = await startMcpUpstream(t)
  let store: KeyStore
  let gatewayStore: KeyStore
  let redis: RedisHandle | undefined
  if (opts.store === 'redis') {
    redis = await testRedis(t)
    const prefix = `oauth-${Math.random().toString(36).slice(2, 8)}:`
    store = await redisStore(t, redis, { prefix })
    gatewayStore = await redisStore(t, redis, { prefix })
  } else {
    store = gatewayStore = await sqliteStore(t, { pollMs: 10 })
  }
  const servers = (opts.servers ?? (url => [
    { id: 'alpha', name: 'Alpha', url, access: 'everyone' },
    { id: 'beta', name: 'Beta', url, access: 'everyone' }
  ]))(upstream.mcpUrl)
  const base = {
    hashing: { memoryCost: 1024, timeCost: 1, parallelism: 1 },
    log: { level: 'silent', accessLog: false },
    audit: { enabled: false },
    servers,
    oauth: { enabled: true, ...opts.oauth }
  }
  const oidc = { issuer: idp.issuer, audience: idp.audience, jwksUrl: idp.jwksUrl }
  const gatewayConfig = buildConfig({ ...base, admin: { oidc }, gateway: { host: '127.0.0.1', port: 0, lastUsedFlushMs: 100 } })
  const gateway = await buildGateway(gatewayConfig, { store: gatewayStore, logger: { level: 'silent' }, ...(opts.gatewayClock === undefined ? {} : { clock: opts.gatewayClock }) })
  t.teardown(() => gateway.close())
  await gateway.listen({ host: '127.0.0.1', port: 0 })
  const gatewayUrl = urlOf(gateway)

  const config = buildConfig({
    ...base,
    gateway: { host: '127.0.0.1', port: 0, publicUrl: gatewayUrl },
    admin: { host: '127.0.0.1', port: 0, token: OAUTH_ADMIN_TOKEN, oidc, ...opts.admin }
  })
  const admin = await buildAdmin(config, {
    store,
    logger: pino({ level: 'silent' }),
    console: false,
    ...(opts.oauthFetch === undefined ? {} : { oauthFetch: opts.oauthFetch }),
    ...(opts.oauthResolve === undefined ? {} : { oauthResolve: opts.oauthResolve }),
    ...(opts.adminClock === undefined ? {} : { clock: opts.adminClock })
  })
  t.teardown(() => admin.close())
  await admin.listen({ host: '127.0.0.1', port: 0 })
  // On port 0 the issuer (this address) is published once listening: wait for it (bounded).
  const deadline = Date.now() + 5000
  while (await store.getRecord('oauth:issuer') === null) {
    if (Date.now() > deadline) throw new Error('the authorization server never published its issuer')
    await new Promise(resolve => setTimeout(resolve, 5))
  }
  return { idp, upstream, store, ...(redis === undefined ? {} : { redis }), gateway, admin, gatewayUrl, adminUrl: urlOf(admin), config, mcpUrl: id => `${gatewayUrl}/mcp-connect/${id}` }
}

/** What an MCP client keeps between runs: registration, tokens, the PKCE verifier; and where it was sent. */
export class TestOAuthClient implements OAuthClientProvider {
  readonly redirectUrl: string
  readonly clientMetadata: OAuthClientMetadata
  readonly clientMetadataUrl: string | undefined
  client: OAuthClientInformationMixed | undefined
  saved: OAuthTokens | undefined
  verifier: string | undefined
  /** The last authorization URL the SDK sent the user to. */
  authorizationUrl: URL | undefined

  constructor (opts: { name?: string, redirectUrl?: string, clientMetadataUrl?: string, authMethod?: string } = {}) {
    this.redirectUrl = opts.redirectUrl ?? 'http://127.0.0.1:9/callback'
    this.clientMetadataUrl = opts.clientMetadataUrl
    this.clientMetadata = {
      client_name: opts.name ?? 'Test MCP Client',
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: opts.authMethod ?? 'none'
    }
  }

  clientInformation (): OAuthClientInformationMixed | undefined { return this.client }
  saveClientInformation (info: OAuthClientInformationMixed): void { this.client = info }
  tokens (): OAuthTokens | undefined { return this.saved }
  saveTokens (tokens: OAuthTokens): void { this.saved = tokens }
  redirectToAuthorization (url: URL): void { this.authorizationUrl = url }
  saveCodeVerifier (verifier: string): void { this.verifier = verifier }
  codeVerifier (): string {
    if (this.verifier === undefined) throw new Error('no code verifier saved')
    return this.verifier
  }
}

interface Cookie { value: string, path: string }

/** Follows redirects by hand and keeps cookies per path, as a browser does for one origin. */
export class CookieBrowser {
  readonly #cookies = new Map<string, Cookie>()

  #header (url: URL): string {
    return [...this.#cookies.entries()]
      .filter(([, c]) => url.pathname === c.path || url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`) || c.path === '/')
      .map(([name, c]) => `${name}=${c.value}`).join('; ')
  }

  #keep (res: Response, url: URL): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';')
      const eq = (pair ?? '').indexOf('=')
      if (eq < 0) continue
      const name = (pair as string).slice(0, eq).trim()
      const value = (pair as string).slice(eq + 1).trim()
      const path = attrs.map(a => a.trim()).find(a => /^path=/i.test(a))?.slice(5) ?? url.pathname.replace(/\/[^/]*$/, '') ?? '/'
      const expired = attrs.some(a => /^expires=thu, 01 jan 1970/i.test(a.trim()) || /^max-age=0$/i.test(a.trim()))
      if (expired || value === '') this.#cookies.delete(name)
      else this.#cookies.set(name, { value, path })
    }
  }

  async fetch (input: string | URL, init: RequestInit & { bearer?: string } = {}): Promise<Response> {
    const url = new URL(input)
    const headers = new Headers(init.headers)
    const cookie = this.#header(url)
    if (cookie !== '') headers.set('cookie', cookie)
    if (init.bearer !== undefined) headers.set('authorization', `Bearer ${init.bearer}`)
    const res = await fetch(url, { ...init, headers, redirect: 'manual' })
    this.#keep(res, url)
    return res
  }

  /** GETs `url` and follows redirects on `origin` until one leaves it (or a page answers). */
  async follow (url: string | URL, origin: string): Promise<{ url: URL, res: Response }> {
    let current = new URL(url)
    for (let hops = 0; hops < 10; hops++) {
      if (current.origin !== origin) return { url: current, res: new Response(null, { status: 200 }) }
      const res = await this.fetch(current)
      const location = res.headers.get('location')
      if (res.status < 300 || res.status >= 400 || location === null) return { url: current, res }
      await res.arrayBuffer()
      current = new URL(location, current)
    }
    throw new Error('too many redirects')
  }
}

export interface ConsentResult {
  /** Where the browser was sent back to the client: the redirect URI with code, state and iss. */
  callback: URL
  keyId: string
  /** What the consent page was shown (GET …/details). */
  details: Record<string, unknown>
}

/**
 * The user's part of an authorization: the browser opens the authorization URL, lands on the
 * consent page's interaction, and the console (signed in as `token`) consents to `pick`.
 */
export async function consentAs (stack: OAuthStack, browser: CookieBrowser, authorizationUrl: URL, token: string, pick: { mcpServerIds: string[], scopes?: unknown }): Promise<ConsentResult> {
  const landed = await browser.follow(authorizationUrl, stack.adminUrl)
  const m = /^\/oauth\/interaction\/([^/]+)$/.exec(landed.url.pathname) ?? /#\/oauth\/consent\?uid=([^&]+)$/.exec(landed.url.href)
  if (m === null) throw new Error(`the authorization did not reach the consent page: ${landed.url.pathname} ${landed.res.status} ${await landed.res.text()}`)
  const uid = m[1] as string
  const details = await browser.fetch(`${stack.adminUrl}/oauth/interaction/${uid}/details`, { bearer: token })
  if (details.status !== 200) throw new Error(`details: ${details.status} ${await details.text()}`)
  const shown = await details.json() as Record<string, unknown>
  const consent = await browser.fetch(`${stack.adminUrl}/oauth/interaction/${uid}/consent`, {
    method: 'POST',
    bearer: token,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(pick)
  })
  const body = await consent.json() as { redirectTo?: string, keyId?: string, message?: string }
  if (consent.status !== 200 || body.redirectTo === undefined || body.keyId === undefined) throw new Error(`consent: ${consent.status} ${body.message ?? ''}`)
  const back = await browser.follow(body.redirectTo, stack.adminUrl)
  return { callback: back.url, keyId: body.keyId, details: shown }
}
