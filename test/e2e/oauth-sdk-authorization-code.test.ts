// OAuth mode end to end with the official MCP SDK's OAuth client (auth() with an
// OAuthClientProvider): discovery from the gateway's 401 and protected resource metadata, the AS
// metadata, dynamic client registration, PKCE S256, the user's consent (as the console gives it),
// `iss` in the authorization response, the code exchange — then an SDK client lists the tools
// through the gateway with the access token, which the upstream never sees.
import t from 'tap'
import { auth } from '@modelcontextprotocol/sdk/client/auth.js'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import { consentAs, CookieBrowser, startOAuthStack, TestOAuthClient } from '../helpers/oauth-stack.ts'

for (const kind of ['sqlite', 'redis'] as const) {
  t.test(`${kind}: the SDK's OAuth client signs in, consents and lists tools`, async t => {
    const stack = await startOAuthStack(t, { store: kind })
    const endpoint = stack.mcpUrl('alpha')

    // An MCP client without credentials is told where to start.
    const challenge = await fetch(endpoint, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{}' })
    t.equal(challenge.status, 401)
    const www = challenge.headers.get('www-authenticate') ?? ''
    t.match(www, `resource_metadata="${stack.gatewayUrl}/.well-known/oauth-protected-resource/mcp-connect/alpha"`, 'the 401 names the protected resource metadata')
    await challenge.arrayBuffer()

    const prm = await (await fetch(`${stack.gatewayUrl}/.well-known/oauth-protected-resource/mcp-connect/alpha`)).json() as Record<string, unknown>
    t.equal(prm.resource, endpoint, 'resource is the endpoint URL exactly')
    t.same(prm.authorization_servers, [stack.adminUrl], 'one authorization server: the admin API')

    const underEndpoint = await (await fetch(`${endpoint}/.well-known/oauth-protected-resource`)).json() as Record<string, unknown>
    t.same(underEndpoint, prm, 'the same metadata under the endpoint, where some clients probe')
    const unknown = await fetch(`${stack.gatewayUrl}/.well-known/oauth-protected-resource/mcp-connect/nope`)
    t.equal(unknown.status, 404, 'no metadata for a server that does not exist')
    await unknown.arrayBuffer()
    const pointer = await fetch(`${stack.gatewayUrl}/.well-known/oauth-authorization-server`, { redirect: 'manual' })
    t.equal(pointer.status, 307, 'clients that look for the AS on the gateway\'s origin are sent to it')
    t.equal(pointer.headers.get('location'), `${stack.adminUrl}/.well-known/oauth-authorization-server`)
    await pointer.arrayBuffer()

    const asMeta = await (await fetch(`${stack.adminUrl}/.well-known/oauth-authorization-server`)).json() as Record<string, unknown>
    t.same(asMeta.code_challenge_methods_supported, ['S256'], 'S256 only')
    t.equal(asMeta.client_id_metadata_document_supported, true, 'CIMD advertised')
    t.ok((asMeta.token_endpoint_auth_methods_supported as string[]).includes('none'), 'public clients (none) supported')
    t.equal(asMeta.registration_endpoint, `${stack.adminUrl}/oauth/register`, 'DCR endpoint')
    t.equal(asMeta.authorization_response_iss_parameter_supported, true, 'RFC 9207')

    const openapi = await (await fetch(`${stack.adminUrl}/openapi.json`)).json() as { paths: Record<string, unknown> }
    t.notOk(Object.keys(openapi.paths).some(p => p.startsWith('/oauth') || p.startsWith('/.well-known')), 'the AS\'s paths stay out of the admin API\'s OpenAPI document')

    const client = new TestOAuthClient({ name: 'Claude Test' })
    t.equal(await auth(client, { serverUrl: endpoint }), 'REDIRECT', 'no tokens yet: the user is sent to authorize')
    t.ok(client.client?.client_id, 'registered dynamically')
    const authorizationUrl = client.authorizationUrl as URL
    t.equal(authorizationUrl.searchParams.get('code_challenge_method'), 'S256')
    t.equal(authorizationUrl.searchParams.get('resource'), endpoint, 'the resource indicator is the endpoint')

    const alice = await stack.idp.sign({ email: 'alice@example.com', name: 'Alice' })
    const browser = new CookieBrowser()
    const { callback, keyId } = await consentAs(stack, browser, authorizationUrl, alice, { mcpServerIds: ['alpha'], scopes: { alpha: { tools: ['echo'] } } })
    t.equal(`${callback.origin}${callback.pathname}`, client.redirectUrl, 'back at the client\'s redirect URI')
    t.equal(callback.searchParams.get('iss'), stack.adminUrl, 'iss in the authorization response (RFC 9207)')
    t.equal(callback.searchParams.get('state'), authorizationUrl.searchParams.get('state'), 'state round-trips')
    const code = callback.searchParams.get('code')
    t.ok(code, 'an authorization code')

    t.equal(await auth(client, { serverUrl: endpoint, authorizationCode: code as string }), 'AUTHORIZED')
    const tokens = client.saved
    t.ok(tokens?.refresh_token, 'a refresh token too')
    const accessToken = tokens?.access_token as string
    t.equal(decodeProtectedHeader(accessToken).typ, 'at+jwt', 'a JWT access token (RFC 9068)')
    const claims = decodeJwt(accessToken)
    t.equal(claims.aud, endpoint, 'audience-bound to the endpoint')
    t.equal(claims.iss, stack.adminUrl)
    t.equal(claims.mcpgate_key, keyId, 'the token names its grant\'s key record')
    t.ok((claims.exp as number) - (claims.iat as number) <= 600, 'short-lived (10 minutes by default)')

    const grant = await stack.store.getKey(keyId)
    t.equal(grant?.name, 'OAuth · Claude Test', 'the grant is a key record named after its client')
    t.same(grant?.oauth, { clientId: client.client?.client_id, clientName: 'Claude Test', redirectHost: '127.0.0.1:9' })
    t.same(grant?.mcpServerIds, ['alpha'])

    const mcp = new Client({ name: 'oauth-e2e', version: '1' })
    const transport = new StreamableHTTPClientTransport(new URL(endpoint), { authProvider: client })
    await mcp.connect(transport)
    t.teardown(() => mcp.close())
    const tools = await mcp.listTools()
    t.same(tools.tools.map(tool => tool.name), ['echo'], 'tools listed with the granted scope')
    const echoed = await mcp.callTool({ name: 'echo', arguments: { text: 'hi' } })
    t.match(JSON.stringify(echoed.content), 'hi', 'a granted tool is called')
    const refused = await mcp.callTool({ name: 'progress', arguments: { steps: 1 } }).then(() => null, (err: Error) => err)
    t.match(refused?.message ?? '', /Unknown tool/, 'a tool outside the grant is refused as unknown')

    const seen = stack.upstream.requests.map(r => JSON.stringify(r.headers))
    t.ok(seen.length > 0, 'the upstream was reached')
    t.notOk(seen.some(h => h.includes(accessToken) || /authorization/i.test(h)), 'the token never reaches the upstream')

    // The same token on another endpoint is refused: it is bound to alpha.
    const other = await fetch(stack.mcpUrl('beta'), { method: 'POST', headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{}' })
    t.equal(other.status, 401, 'wrong audience → 401')
    t.match(other.headers.get('www-authenticate') ?? '', 'error="invalid_token"')
    await other.arrayBuffer()
  })
}
