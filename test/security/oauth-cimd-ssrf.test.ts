// Client ID Metadata Documents: an https: client_id is fetched by the authorization server, so the
// URL is an SSRF vector. Refused before any connection: non-https, credentials in the URL,
// localhost, and any host that is or resolves to a loopback, private, link-local, CGNAT or other
// non-public address. A public one is fetched (here from an injected fetch: no network) and the
// MCP SDK signs in with it as its client_id, without registering.
import t from 'tap'
import { createServer, type Socket } from 'node:net'
import { auth } from '@modelcontextprotocol/sdk/client/auth.js'
import { isNonPublicAddress, mayFetchClientMetadata } from '../../admin-api/oauth/ssrf-guard.ts'
import { consentAs, CookieBrowser, startOAuthStack, TestOAuthClient } from '../helpers/oauth-stack.ts'

const PUBLIC = '93.184.215.14'

t.test('addresses a metadata fetch must never reach', async t => {
  for (const a of ['127.0.0.1', '127.1.2.3', '10.0.0.1', '172.16.5.4', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1',
    '::1', '::', 'fe80::1', 'fc00::1', 'fd12:3456::1', '::ffff:127.0.0.1', '::ffff:10.1.1.1', 'not-an-ip']) {
    t.ok(isNonPublicAddress(a), `${a} is not public`)
  }
  for (const a of [PUBLIC, '8.8.8.8', '2606:4700:4700::1111', '::ffff:8.8.8.8']) t.notOk(isNonPublicAddress(a), `${a} is public`)

  const resolve = async (host: string) => ({ 'app.example': [PUBLIC], 'rebind.example': ['127.0.0.1'], 'mixed.example': [PUBLIC, '10.0.0.7'], 'v6.example': ['::1'] } as Record<string, string[]>)[host] ?? Promise.reject(new Error('ENOTFOUND'))
  t.ok(await mayFetchClientMetadata('https://app.example/client.json', resolve), 'a public host')
  for (const [url, why] of [
    ['http://app.example/client.json', 'http'],
    ['https://user:pw@app.example/client.json', 'credentials in the URL'],
    ['https://localhost/client.json', 'localhost'],
    ['https://api.localhost/client.json', 'a .localhost name'],
    ['https://127.0.0.1/client.json', 'a loopback literal'],
    ['https://[::1]/client.json', 'an IPv6 loopback literal'],
    ['https://169.254.169.254/latest/meta-data', 'the cloud metadata address'],
    ['https://10.0.0.1/client.json', 'a private literal'],
    ['https://rebind.example/client.json', 'a name that resolves to loopback'],
    ['https://mixed.example/client.json', 'a name with one private address among public ones'],
    ['https://v6.example/client.json', 'a name that resolves to ::1'],
    ['https://nowhere.example/client.json', 'a name that does not resolve'],
    ['not a url', 'no URL']
  ]) t.notOk(await mayFetchClientMetadata(url as string, resolve), `refused: ${why}`)
})

t.test('a client_id URL on a private address is refused without a connection; a public one signs in', async t => {
  // Anything that connects here would be the SSRF.
  const sockets: Socket[] = []
  const trap = createServer(socket => { sockets.push(socket); socket.destroy() })
  await new Promise<void>(resolve => trap.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => trap.close(() => resolve())))
  const port = (trap.address() as { port: number }).port

  const documentUrl = 'https://app.example/mcp-client.json'
  const fetched: string[] = []
  const stack = await startOAuthStack(t, {
    oauthResolve: async host => ({ 'app.example': [PUBLIC], 'rebind.example': ['127.0.0.1'] } as Record<string, string[]>)[host] ?? Promise.reject(new Error('ENOTFOUND')),
    oauthFetch: async url => {
      fetched.push(String(url))
      if (String(url) !== documentUrl) throw new Error('no network in this test')
      return new Response(JSON.stringify({
        client_id: documentUrl,
        client_name: 'Example App',
        redirect_uris: ['https://app.example/callback'],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none'
      }), { status: 200, headers: { 'content-type': 'application/json', 'cache-control': 'max-age=60' } })
    }
  })
  const endpoint = stack.mcpUrl('alpha')

  for (const clientId of [`https://127.0.0.1:${port}/client.json`, `https://rebind.example:${port}/client.json`, `https://localhost:${port}/client.json`]) {
    const url = `${stack.adminUrl}/oauth/authorize?${new URLSearchParams({ client_id: clientId, response_type: 'code', redirect_uri: 'https://app.example/callback', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256', resource: endpoint, scope: 'mcp' })}`
    const res = await fetch(url, { redirect: 'manual' })
    t.equal(res.status, 400, `${clientId}: refused with an error page`)
    t.equal(res.headers.get('location'), null, 'never redirected')
    await res.arrayBuffer()
  }
  t.equal(sockets.length, 0, 'nothing ever connected to the private address')
  t.same(fetched, [], 'and nothing was fetched')

  const client = new TestOAuthClient({ name: 'Example App', redirectUrl: 'https://app.example/callback', clientMetadataUrl: documentUrl })
  t.equal(await auth(client, { serverUrl: endpoint }), 'REDIRECT')
  t.equal(client.client?.client_id, documentUrl, 'the SDK used the document URL as client_id (no registration)')
  const alice = await stack.idp.sign({ email: 'alice@example.com', name: 'Alice' })
  const { callback, keyId } = await consentAs(stack, new CookieBrowser(), client.authorizationUrl as URL, alice, { mcpServerIds: ['alpha'] })
  t.equal(`${callback.origin}${callback.pathname}`, 'https://app.example/callback', 'the code goes to the document\'s redirect URI')
  t.equal(await auth(client, { serverUrl: endpoint, authorizationCode: callback.searchParams.get('code') as string }), 'AUTHORIZED')
  t.same((await stack.store.getKey(keyId))?.oauth, { clientId: documentUrl, clientName: 'Example App', redirectHost: 'app.example' }, 'the grant names the client from its document')
  t.same(fetched, [documentUrl], 'the document was fetched once (cached for its max-age)')
  const res = await fetch(endpoint, { method: 'POST', headers: { authorization: `Bearer ${client.saved?.access_token as string}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'c', version: '1' } } }) })
  t.equal(res.status, 200, 'its token works at the gateway')
  await res.arrayBuffer()
})
