// Browser access: a present Origin not in gateway.allowedOrigins → 403 before anything else
// (DNS rebinding, MCP 2025-11-25); preflights are answered by the gateway without a key; allowed
// origins get CORS headers exposing Mcp-Session-Id and WWW-Authenticate; the upstream's own CORS
// headers are not relayed; requests without Origin are unaffected.
import t from 'tap'
import { createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

t.test('origins', async t => {
  const upstream = await startRawUpstream(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*', 'mcp-session-id': 's1', vary: 'Accept-Encoding' })
    res.end('{}')
  })
  const store = await sqliteStore(t)
  const gw = await startGateway(t, {
    store,
    config: testConfig({ gateway: { allowedOrigins: ['https://app.example.com'] }, servers: [{ id: 'up', url: `${upstream.origin}/mcp` }] })
  })
  const { key } = await createTestKey(store)
  const allowed = 'https://app.example.com'

  const evil = await fetch(gw.mcpUrl('up'), { method: 'POST', headers: { origin: 'http://evil.example', authorization: `Bearer ${key}` }, body: '{}' })
  t.equal(evil.status, 403, 'foreign origin refused, even with a valid key')
  t.equal(evil.headers.get('access-control-allow-origin'), null)
  t.equal(((await evil.json()) as { error: { data: { code: string } } }).error.data.code, 'MCPGATE_ORIGIN_FORBIDDEN')
  t.equal((await fetch(gw.mcpUrl('up'), { method: 'OPTIONS', headers: { origin: 'http://localhost:1234', 'access-control-request-method': 'POST' } })).status, 403, 'foreign preflight refused')
  t.equal((await fetch(`${gw.url}/api/me`, { headers: { origin: 'null', 'x-api-key': key } })).status, 403, 'opaque origin refused')

  const pre = await fetch(gw.mcpUrl('up', 'messages'), { method: 'OPTIONS', headers: { origin: allowed, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, mcp-session-id' } })
  t.equal(pre.status, 204, 'preflight answered without a key')
  t.equal(pre.headers.get('access-control-allow-origin'), allowed)
  t.equal(pre.headers.get('access-control-allow-methods'), 'GET, POST, DELETE, OPTIONS')
  t.equal(pre.headers.get('access-control-allow-headers'), 'Authorization, X-API-Key, Content-Type, Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID')
  t.equal(pre.headers.get('access-control-expose-headers'), 'Mcp-Session-Id, WWW-Authenticate')

  const ok = await fetch(gw.mcpUrl('up'), { method: 'POST', headers: { origin: allowed, authorization: `Bearer ${key}` }, body: '{}' })
  t.equal(ok.status, 200)
  t.equal(ok.headers.get('access-control-allow-origin'), allowed, 'the gateway\'s CORS, not the upstream\'s "*"')
  t.equal(ok.headers.get('access-control-expose-headers'), 'Mcp-Session-Id, WWW-Authenticate')
  t.equal(ok.headers.get('mcp-session-id'), 's1')
  t.equal(ok.headers.get('vary'), 'Accept-Encoding, Origin', 'the upstream Vary keeps Origin added')

  const denied = await fetch(gw.mcpUrl('up'), { method: 'POST', headers: { origin: allowed }, body: '{}' })
  t.equal(denied.status, 401)
  t.equal(denied.headers.get('access-control-allow-origin'), allowed, 'errors carry CORS too, so the browser can read the 401')
  t.equal(denied.headers.get('access-control-expose-headers'), 'Mcp-Session-Id, WWW-Authenticate')

  t.equal((await fetch(gw.mcpUrl('up'), { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: '{}' })).status, 200, 'no Origin: allowed')
  t.equal(upstream.requests.length, 2, 'refused origins never reached the upstream')
})
