// Key-only mode never pushes a client into OAuth (DESIGN, Wave 2 "Answers that never push a client
// into OAuth"): every OAuth discovery document and endpoint a client probes, at the root and under
// a server's path, answers a fast JSON 404 MCPGATE_OAUTH_NOT_ENABLED with Cache-Control: no-store,
// no WWW-Authenticate, and a message that says to send an API key (and where to create one when
// admin.publicUrl is set); none reaches the upstream. A 401 carries the same hint and exposes
// WWW-Authenticate through CORS. The MCP SDK's own OAuth client, pointed at the gateway, stops with
// our message instead of opening a browser.
import t from 'tap'
import type { Test } from 'tap'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import {
  discoverAuthorizationServerMetadata, discoverOAuthProtectedResourceMetadata, registerClient, type OAuthClientProvider
} from '@modelcontextprotocol/sdk/client/auth.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js'
import { buildConfig } from '../../config/load.ts'
import { createTestKey, FAST_ARGON2, startGateway, type TestGateway } from '../helpers/gateway.ts'
import { startRawUpstream, type UpstreamBase } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

const PUBLIC_URL = 'https://console.example.com/keys'
const ALLOWED_ORIGIN = 'https://app.example.com'
const CLIENT_METADATA: OAuthClientMetadata = { redirect_uris: ['http://localhost:9/oauth/callback'], client_name: 'probe' }

interface Probe {
  method: 'GET' | 'POST'
  path: string
  body?: string
  type?: string
}

/** Every OAuth path an MCP client probes (RFC 9728, RFC 8414, OIDC discovery; DCR, authorize, token). */
function oauthProbes (serverId: string): Probe[] {
  const docs = ['oauth-protected-resource', 'oauth-authorization-server', 'openid-configuration']
  return [
    ...docs.flatMap(doc => [
      { method: 'GET' as const, path: `/.well-known/${doc}` },
      { method: 'GET' as const, path: `/.well-known/${doc}/mcp-connect/${serverId}` },
      { method: 'GET' as const, path: `/mcp-connect/${serverId}/.well-known/${doc}` }
    ]),
    { method: 'POST', path: '/register', body: JSON.stringify(CLIENT_METADATA), type: 'application/json' },
    { method: 'GET', path: '/authorize?response_type=code&client_id=probe&code_challenge=x&code_challenge_method=S256' },
    { method: 'POST', path: '/token', body: 'grant_type=authorization_code&code=x&client_id=probe', type: 'application/x-www-form-urlencoded' }
  ]
}

function mentionsKeys (t: Test, text: unknown, what: string, publicUrl?: string): void {
  t.type(text, 'string', `${what}: a message`)
  const s = String(text)
  t.match(s, 'API keys', `${what}: says the gateway takes API keys`)
  t.match(s, 'Authorization: Bearer ok1-', `${what}: names the Authorization header`)
  t.match(s, 'X-API-Key', `${what}: names X-API-Key`)
  if (publicUrl !== undefined) t.match(s, publicUrl, `${what}: names where to create a key`)
}

/** What a text says about keys: each item must be true for a hint. */
function hintIn (text: unknown, publicUrl: string | undefined): Record<string, boolean> {
  const s = typeof text === 'string' ? text : ''
  return {
    'says the gateway takes API keys': s.includes('API keys'),
    'names Authorization: Bearer ok1-': s.includes('Authorization: Bearer ok1-'),
    'names X-API-Key': s.includes('X-API-Key'),
    'names where to create a key': publicUrl === undefined || s.includes(publicUrl)
  }
}

/** One comparison per probe: a failure shows every way the answer differs from the contract. */
async function assertNoOAuth (t: Test, gw: TestGateway, probe: Probe, headers: Record<string, string>, publicUrl?: string): Promise<void> {
  const what = `${probe.method} ${probe.path.split('?')[0]}${Object.keys(headers).length === 0 ? '' : ` (with ${Object.keys(headers).join(', ')})`}`
  const res = await fetch(gw.url + probe.path, {
    method: probe.method,
    headers: { ...headers, ...(probe.type === undefined ? {} : { 'content-type': probe.type }) },
    body: probe.body,
    redirect: 'manual'
  })
  const text = await res.text()
  let body: Record<string, unknown> = {}
  try { body = JSON.parse(text) as Record<string, unknown> } catch {}
  const mcpRoute = probe.path.startsWith('/mcp-connect/')
  // An MCP route answers the JSON-RPC envelope with the hint in the message and data.hint; other
  // routes `{statusCode, code, error, message}` with the message in error_description too, which
  // the MCP SDK's OAuth client shows its user (RFC 6749 error body). README "Errors".
  const error = (body.error ?? {}) as { message?: string, data?: { code?: string, hint?: string } }
  const observed = {
    status: res.status,
    contentType: (res.headers.get('content-type') ?? '').split(';')[0],
    cacheControl: res.headers.get('cache-control'),
    wwwAuthenticate: res.headers.get('www-authenticate'),
    code: mcpRoute ? error.data?.code : body.code,
    messageHint: hintIn(mcpRoute ? error.message : body.message, publicUrl),
    ...(mcpRoute
      ? { jsonrpc: body.jsonrpc, dataHint: hintIn(error.data?.hint, publicUrl) }
      : { errorDescriptionIsMessage: typeof body.message === 'string' && body.error_description === body.message })
  }
  const yes = hintIn('API keys Authorization: Bearer ok1- X-API-Key ' + (publicUrl ?? ''), publicUrl)
  const expected = {
    status: 404,
    contentType: 'application/json',
    cacheControl: 'no-store',
    wwwAuthenticate: null,
    code: 'MCPGATE_OAUTH_NOT_ENABLED',
    messageHint: yes,
    ...(mcpRoute ? { jsonrpc: '2.0', dataHint: yes } : { errorDescriptionIsMessage: true })
  }
  t.same(observed, expected, `${what}: 404 MCPGATE_OAUTH_NOT_ENABLED, no-store, no challenge, the key hint${observed.status === 404 ? '' : ` (got ${text.slice(0, 300)})`}`)
}

class RecordingProvider implements OAuthClientProvider {
  readonly calls: string[] = []
  #client: OAuthClientInformationMixed | undefined
  get redirectUrl (): string { return 'http://localhost:9/oauth/callback' }
  get clientMetadata (): OAuthClientMetadata { return CLIENT_METADATA }
  clientInformation (): OAuthClientInformationMixed | undefined { return this.#client }
  saveClientInformation (info: OAuthClientInformationMixed): void { this.calls.push('saveClientInformation'); this.#client = info }
  tokens (): OAuthTokens | undefined { return undefined }
  saveTokens (): void { this.calls.push('saveTokens') }
  redirectToAuthorization (): void { this.calls.push('redirectToAuthorization') }
  saveCodeVerifier (): void { this.calls.push('saveCodeVerifier') }
  codeVerifier (): string { return 'verifier' }
}

async function setup (t: Test, publicUrl: string | undefined): Promise<{ gw: TestGateway, upstream: UpstreamBase, key: string }> {
  const upstream = await startRawUpstream(t, (_req, res) => {
    // Were anything proxied here, this upstream would hand the client an OAuth document of its own.
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ resource: 'http://upstream/mcp', authorization_servers: ['http://upstream'] }))
  })
  const store = await sqliteStore(t)
  const config = buildConfig({
    gateway: { port: 0, allowedOrigins: [ALLOWED_ORIGIN] },
    admin: publicUrl === undefined ? {} : { publicUrl },
    hashing: FAST_ARGON2,
    log: { level: 'info' },
    servers: [{ id: 'up', url: `${upstream.origin}/mcp` }]
  })
  const gw = await startGateway(t, { store, config })
  const { key } = await createTestKey(store)
  return { gw, upstream, key }
}

for (const publicUrl of [undefined, PUBLIC_URL]) {
  t.test(publicUrl === undefined ? 'without admin.publicUrl' : 'with admin.publicUrl', async t => {
    const { gw, upstream, key } = await setup(t, publicUrl)

    await t.test('every OAuth discovery path and endpoint: 404 MCPGATE_OAUTH_NOT_ENABLED with the key hint', async t => {
      // A configured server and an unknown one answer alike; with or without a key, from a browser or not.
      const senders: Array<Record<string, string>> = [{}, { authorization: `Bearer ${key}` }, { 'x-api-key': key, origin: ALLOWED_ORIGIN }]
      for (const headers of senders) {
        for (const probe of [...oauthProbes('up'), ...oauthProbes('ghost')]) await assertNoOAuth(t, gw, probe, headers, publicUrl)
      }
      t.equal(upstream.requests.length, 0, 'no OAuth probe reached the upstream, not even under its path with a valid key')
    })

    await t.test('401 without a key or with a bad one: the hint, the challenge without resource_metadata, exposed through CORS', async t => {
      const cases: Array<[string, Record<string, string>, string]> = [
        ['no key', {}, 'Bearer realm="mcpgate"'],
        ['a bad key', { authorization: 'Bearer ok1-not-a-real-key' }, 'Bearer realm="mcpgate", error="invalid_token"']
      ]
      for (const [what, headers, challenge] of cases) {
        const res = await fetch(gw.mcpUrl('up'), {
          method: 'POST',
          headers: { ...headers, origin: ALLOWED_ORIGIN, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' })
        })
        t.equal(res.status, 401, `${what}: 401`)
        t.equal(res.headers.get('www-authenticate'), challenge, `${what}: the RFC 6750 challenge`)
        t.notMatch(res.headers.get('www-authenticate') ?? '', 'resource_metadata', `${what}: no resource_metadata`)
        t.equal(res.headers.get('access-control-allow-origin'), ALLOWED_ORIGIN, `${what}: CORS for the allowed origin`)
        const exposed = (res.headers.get('access-control-expose-headers') ?? '').split(',').map(h => h.trim().toLowerCase())
        t.ok(exposed.includes('www-authenticate'), `${what}: WWW-Authenticate is exposed to the page`)
        const body = await res.json() as { error: { message: string, data: { hint: string } } }
        mentionsKeys(t, body.error.message, `${what}: message`, publicUrl)
        mentionsKeys(t, body.error.data.hint, `${what}: data.hint`, publicUrl)
      }
      const me = await fetch(`${gw.url}/api/me`)
      t.equal(me.status, 401, 'a non-MCP route: 401')
      const body = await me.json() as { message: string, error_description: string }
      mentionsKeys(t, body.message, '/api/me message', publicUrl)
      t.equal(body.error_description, body.message, '/api/me: error_description carries the message')
    })

    await t.test("the MCP SDK's OAuth helpers find no OAuth, and its registration fails with our message", async t => {
      const server = new URL(gw.mcpUrl('up'))
      // RFC 9728 discovery: the SDK reads no body of a 404, so its own sentence: there is no OAuth here.
      await t.rejects(discoverOAuthProtectedResourceMetadata(server), /does not implement OAuth 2\.0 Protected Resource Metadata/)
      // RFC 8414 / OIDC discovery: every candidate 404s, so no metadata (the SDK then falls back to /register).
      t.equal(await discoverAuthorizationServerMetadata(new URL(gw.url)), undefined, 'no authorization server metadata')
      t.equal(await discoverAuthorizationServerMetadata(server), undefined, 'none under the server path either')
      // Dynamic client registration: the SDK builds its error from our error_description.
      const failure = await registerClient(new URL(gw.url), { clientMetadata: CLIENT_METADATA }).then(() => null, (err: unknown) => err)
      t.ok(failure instanceof Error, 'registration fails')
      mentionsKeys(t, (failure as Error).message, 'registerClient error', publicUrl)
    })

    await t.test('an SDK client with an OAuth provider and no key stops with our message, without an authorization redirect', async t => {
      const provider = new RecordingProvider()
      const client = new Client({ name: 'oauth-probe', version: '1.0.0' })
      t.teardown(() => client.close())
      const transport = new StreamableHTTPClientTransport(new URL(gw.mcpUrl('up')), { authProvider: provider })
      const failure = await client.connect(transport).then(() => null, (err: unknown) => err)
      t.ok(failure instanceof Error, 'connect fails')
      mentionsKeys(t, (failure as Error).message, 'the SDK client error', publicUrl)
      t.same(provider.calls, [], 'no client registered, no code verifier, no authorization redirect, no tokens')
    })
  })
}
