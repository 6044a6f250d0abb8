// The upstream never sees the API key — not in a header, the query or the body — over real SDK
// sessions and raw requests; credentials and spoofed x-mcpgate-* headers are dropped, the
// server's configured headers, x-forwarded-* and (when enabled) identity headers are added.
import t from 'tap'
import { connectSse, connectStreamable, createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { startMcpUpstream, type RecordedRequest } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

function leaks (r: RecordedRequest, secrets: string[]): string[] {
  const haystack = [r.url, r.body, JSON.stringify(r.headers)].join('\n')
  return secrets.filter(s => haystack.includes(s))
}

t.test('the key stays at the gateway', async t => {
  const upstream = await startMcpUpstream(t)
  const store = await sqliteStore(t)
  const gw = await startGateway(t, {
    store,
    config: testConfig({
      servers: [
        { id: 'plain', url: upstream.mcpUrl, headers: { Authorization: 'Bearer upstream-token', 'X-Team': 'blue' } },
        { id: 'ident', url: upstream.mcpUrl, identityHeaders: true },
        { id: 'legacy', url: upstream.sseUrl }
      ]
    })
  })
  const k = await createTestKey(store)
  const secrets = [k.key, k.secret, k.secret.slice(0, 40)]

  const a = await connectStreamable(t, gw.mcpUrl('plain'), k.key)
  await a.client.callTool({ name: 'echo', arguments: { text: 'hi' } })
  const b = await connectSse(t, gw.mcpUrl('legacy'), k.key)
  await b.client.callTool({ name: 'echo', arguments: { text: 'hi' } })

  // A raw request carrying every credential header a client might send, plus spoofed identity.
  const before = upstream.requests.length
  const res = await fetch(gw.mcpUrl('ident'), {
    method: 'POST',
    headers: {
      authorization: `Bearer ${k.key}`,
      'x-api-key': k.key,
      cookie: `session=${k.key}`,
      'proxy-authorization': `Basic ${k.key}`,
      'x-mcpgate-user-id': 'admin',
      'x-mcpgate-user-email': 'root@example.com',
      'x-mcpgate-anything': 'spoof',
      'x-forwarded-for': '6.6.6.6',
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream'
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } })
  })
  t.equal(res.status, 200)
  await res.text()
  const raw = upstream.requests.slice(before).find(r => r.method === 'POST')!
  t.equal(raw.headers.authorization, undefined, 'authorization dropped')
  t.equal(raw.headers['x-api-key'], undefined, 'x-api-key dropped')
  t.equal(raw.headers.cookie, undefined, 'cookie dropped')
  t.equal(raw.headers['proxy-authorization'], undefined, 'proxy-authorization dropped')
  t.equal(raw.headers['x-mcpgate-anything'], undefined, 'client x-mcpgate-* dropped')
  t.equal(raw.headers['x-mcpgate-user-id'], k.user.id, 'identity: user id from the key, not the client')
  t.equal(raw.headers['x-mcpgate-user-email'], k.user.email)
  t.equal(raw.headers['x-mcpgate-key-id'], k.keyId)
  t.equal(raw.headers['x-forwarded-for'], '127.0.0.1', 'x-forwarded-for from the socket (trustProxy off)')
  t.equal(raw.headers['x-forwarded-proto'], 'http')
  t.equal(raw.headers['x-forwarded-host'], new URL(gw.url).host)
  t.equal(raw.headers.host, new URL(upstream.origin).host, 'Host is the upstream')

  // A client that also pastes its key into the query string: those parameters never go upstream.
  const q = await fetch(`${gw.mcpUrl('plain')}?api_key=${k.key}&keep=1&token=${encodeURIComponent(k.key)}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${k.key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } })
  })
  t.equal(q.status, 200)
  await q.text()
  const queried = upstream.requests.find(r => r.url.includes('keep=1'))
  t.ok(queried, 'other query parameters are kept')
  t.notMatch(queried?.url ?? '', /ok1/i, 'key-bearing query parameters are dropped')

  const plain = upstream.requests.find(r => r.method === 'POST' && r.headers['x-team'] === 'blue')
  t.ok(plain, 'configured headers added')
  t.equal(plain?.headers.authorization, 'Bearer upstream-token', 'the server\'s own credential replaces the client\'s')
  t.equal(plain?.headers['x-mcpgate-user-id'], undefined, 'no identity headers unless enabled')

  t.ok(upstream.requests.length >= 8, `inspected ${upstream.requests.length} upstream requests`)
  for (const r of upstream.requests) t.same(leaks(r, secrets), [], `${r.method} ${r.url}: no key material`)
})
