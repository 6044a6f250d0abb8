// What the OAuth door refuses: an authorization request without PKCE or with the plain method, a
// redirect URI the client did not register, a resource that is no endpoint of this gateway, a code
// exchanged with the wrong verifier; and at the gateway, any access token that is not exactly one
// of ours for this endpoint (forged, expired, another audience or issuer, another typ, no key claim).
import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import { importJWK, SignJWT, generateKeyPair, type JWK } from 'jose'
import { authorizationServerSecrets, KEY_CLAIM } from '../../core/oauth.ts'
import { consentAs, CookieBrowser, startOAuthStack, type OAuthStack } from '../helpers/oauth-stack.ts'

const REDIRECT = 'http://127.0.0.1:9/callback'

async function register (stack: OAuthStack): Promise<string> {
  const res = await fetch(`${stack.adminUrl}/oauth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'Probe', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] })
  })
  t.equal(res.status, 201, 'registered')
  return (await res.json() as { client_id: string }).client_id
}

function authorizeUrl (stack: OAuthStack, params: Record<string, string>): string {
  return `${stack.adminUrl}/oauth/authorize?${new URLSearchParams({ response_type: 'code', scope: 'mcp', state: 's1', ...params })}`
}

/** Where the authorization endpoint sends the browser (an error to the client, or a page). */
async function authorize (url: string): Promise<{ status: number, location: URL | null, body: string }> {
  const res = await fetch(url, { redirect: 'manual' })
  const location = res.headers.get('location')
  return { status: res.status, location: location === null ? null : new URL(location, url), body: await res.text() }
}

const pkce = () => {
  const verifier = randomBytes(32).toString('base64url')
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}

t.test('authorization requests and code exchanges the AS refuses', async t => {
  const stack = await startOAuthStack(t)
  const clientId = await register(stack)
  const resource = stack.mcpUrl('alpha')
  const { verifier, challenge } = pkce()

  const noPkce = await authorize(authorizeUrl(stack, { client_id: clientId, redirect_uri: REDIRECT, resource }))
  t.equal(noPkce.location?.origin + (noPkce.location?.pathname ?? ''), REDIRECT, 'missing PKCE: an error sent back to the client')
  t.equal(noPkce.location?.searchParams.get('error'), 'invalid_request', 'invalid_request')
  t.match(noPkce.location?.searchParams.get('error_description') ?? '', /PKCE/, 'saying PKCE is required')

  const plain = await authorize(authorizeUrl(stack, { client_id: clientId, redirect_uri: REDIRECT, resource, code_challenge: verifier, code_challenge_method: 'plain' }))
  t.equal(plain.location?.searchParams.get('error'), 'invalid_request', 'the plain method is refused (S256 only)')

  const otherRedirect = await authorize(authorizeUrl(stack, { client_id: clientId, redirect_uri: 'https://attacker.example/cb', resource, code_challenge: challenge, code_challenge_method: 'S256' }))
  t.equal(otherRedirect.status, 400, 'an unregistered redirect URI: an error page, never a redirect')
  t.equal(otherRedirect.location, null)
  t.notMatch(otherRedirect.body, 'attacker.example/cb?', 'the code never goes there')

  const unknownResource = await authorize(authorizeUrl(stack, { client_id: clientId, redirect_uri: REDIRECT, resource: `${stack.gatewayUrl}/mcp-connect/nope`, code_challenge: challenge, code_challenge_method: 'S256' }))
  t.equal(unknownResource.location?.searchParams.get('error'), 'invalid_target', 'a resource that is no endpoint here → invalid_target')
  const foreignResource = await authorize(authorizeUrl(stack, { client_id: clientId, redirect_uri: REDIRECT, resource: 'https://other.example/mcp', code_challenge: challenge, code_challenge_method: 'S256' }))
  t.equal(foreignResource.location?.searchParams.get('error'), 'invalid_target', 'another server\'s URL → invalid_target')

  // A real consent, then its code with the wrong verifier, then with the right one.
  const alice = await stack.idp.sign({ email: 'alice@example.com', name: 'Alice' })
  const { callback } = await consentAs(stack, new CookieBrowser(), new URL(authorizeUrl(stack, { client_id: clientId, redirect_uri: REDIRECT, resource, code_challenge: challenge, code_challenge_method: 'S256' })), alice, { mcpServerIds: ['alpha'] })
  const code = callback.searchParams.get('code') as string
  const exchange = (codeVerifier: string) => fetch(`${stack.adminUrl}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: clientId, code_verifier: codeVerifier, resource })
  })
  const wrong = await exchange(pkce().verifier)
  t.equal(wrong.status, 400, 'the wrong code_verifier → 400')
  t.equal((await wrong.json() as { error: string }).error, 'invalid_grant')
})

t.test('access tokens the gateway refuses', async t => {
  const stack = await startOAuthStack(t)
  const user = await stack.store.createUser({ email: 'bob@example.com', name: 'Bob', role: 'user', groups: [] })
  const { keys } = await authorizationServerSecrets(stack.store)
  const jwk = keys[0] as JWK
  const signingKey = await importJWK(jwk, 'ES256')
  // A grant key record, as a consent makes it.
  const grantId = 'GrantKey00000001'
  await stack.store.createKey({ id: grantId, userId: user.id, name: 'OAuth · x', description: '', mcpServerIds: ['alpha'], createdAt: Date.now(), expiresAt: null, lastUsedAt: null, secretHash: '$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA', oauth: { clientId: 'c', clientName: 'x', redirectHost: 'h' } })
  const now = Math.floor(Date.now() / 1000)
  const mint = async (claims: Record<string, unknown>, opts: { typ?: string, key?: typeof signingKey, kid?: string } = {}) =>
    await new SignJWT({ [KEY_CLAIM]: grantId, client_id: 'c', scope: 'mcp', ...claims })
      .setProtectedHeader({ alg: 'ES256', typ: opts.typ ?? 'at+jwt', kid: opts.kid ?? String(jwk.kid) })
      .setIssuer(String(claims.iss ?? stack.adminUrl))
      .setAudience(String(claims.aud ?? stack.mcpUrl('alpha')))
      .setIssuedAt(now)
      .setExpirationTime(typeof claims.exp === 'number' ? claims.exp : now + 600)
      .sign(opts.key ?? signingKey)
  const send = async (token: string, serverId = 'alpha') => {
    const res = await fetch(stack.mcpUrl(serverId), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'n', version: '1' } } })
    })
    await res.arrayBuffer()
    return { status: res.status, www: res.headers.get('www-authenticate') ?? '' }
  }

  const good = await send(await mint({}))
  t.equal(good.status, 200, 'a token as the AS makes it is accepted (the control)')
  const again = await send(await mint({}))
  t.equal(again.status, 200, 'and another one')

  const { privateKey: rogue } = await generateKeyPair('ES256')
  const cases: Array<[string, string]> = [
    ['signed by a key the AS does not have', await mint({}, { key: rogue })],
    ['expired', await mint({ exp: now - 120 })],
    ['for another audience', await mint({ aud: stack.mcpUrl('beta') })],
    ['for another gateway', await mint({ aud: 'https://elsewhere.example/mcp-connect/alpha' })],
    ['from another issuer', await mint({ iss: 'https://idp.example' })],
    ['not an access token (typ JWT)', await mint({}, { typ: 'JWT' })],
    ['without the key claim', await mint({ [KEY_CLAIM]: undefined })],
    ['naming a key that does not exist', await mint({ [KEY_CLAIM]: 'NoSuchKey0000000' })],
    ['an ID token of the sign-in IdP', await stack.idp.sign({ email: 'bob@example.com' })]
  ]
  for (const [what, token] of cases) {
    const res = await send(token)
    t.equal(res.status, 401, `${what} → 401`)
    t.match(res.www, 'error="invalid_token"', `${what}: invalid_token`)
    t.match(res.www, `resource_metadata="${stack.gatewayUrl}/.well-known/oauth-protected-resource/mcp-connect/alpha"`, `${what}: the challenge names the metadata`)
  }
  const beta = await send(await mint({ aud: stack.mcpUrl('beta') }), 'beta')
  t.equal(beta.status, 403, 'a token for beta on beta whose grant reaches alpha only: 403 (the token names the server: no oracle to keep)')
  t.match(beta.www, /^Bearer realm="mcpgate", error="insufficient_scope", resource_metadata="[^"]+\/\.well-known\/oauth-protected-resource\/mcp-connect\/beta", scope="mcp"$/, 'the scope challenge: authorize again for beta (MCP step-up)')
  const betaBody = await fetch(stack.mcpUrl('beta'), {
    method: 'POST',
    headers: { authorization: `Bearer ${await mint({ aud: stack.mcpUrl('beta') })}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: '{"jsonrpc":"2.0","id":1,"method":"ping"}'
  })
  t.match(await betaBody.json(), { jsonrpc: '2.0', id: null, error: { code: -32000, message: /does not reach MCP server "beta"; authorize again/, data: { code: 'MCPGATE_INSUFFICIENT_SCOPE' } } }, 'a JSON-RPC error naming the server')
  const gamma = await send(await mint({ aud: stack.mcpUrl('gamma') }), 'gamma')
  t.equal(gamma.status, 404, 'a server that is not configured: 404 whatever the token')

  const me = await fetch(`${stack.gatewayUrl}/api/me`, { headers: { authorization: `Bearer ${await mint({})}` } })
  t.equal(me.status, 401, 'tokens are for MCP endpoints only, not /api/me')
  await me.arrayBuffer()

  // The owner's live state bounds every request, as for a key.
  const live = await mint({})
  t.equal((await send(live)).status, 200, 'the owner enabled: accepted')
  await stack.store.updateUser(user.id, { disabled: true })
  t.equal((await send(live)).status, 401, 'the owner disabled: the same token is refused at once')
})
