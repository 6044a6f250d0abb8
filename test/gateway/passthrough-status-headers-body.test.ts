// The gateway is transparent for MCP: status codes (202, 404, 405, 406, 409…), bodies and the MCP
// headers pass through verbatim in both directions; unknown headers are forwarded; the query is kept.
import t from 'tap'
import { createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

t.test('passthrough', async t => {
  const upstream = await startRawUpstream(t, (req, res) => {
    const status = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('status') ?? '200')
    res.writeHead(status, {
      'content-type': status === 202 ? 'text/plain' : 'application/json; charset=utf-8',
      'mcp-session-id': 'sess-123',
      'mcp-protocol-version': '2025-11-25',
      'x-custom-upstream': 'yes'
    })
    res.end(status === 202 ? '' : JSON.stringify({ echo: req.url, body: req.method === 'POST' ? 'binary' : null }))
  }, { readBody: true })
  const store = await sqliteStore(t)
  const gw = await startGateway(t, { store, config: testConfig({ servers: [{ id: 'up', url: `${upstream.origin}/mcp` }] }) })
  const { key } = await createTestKey(store)
  // The session is created through the gateway (the upstream answers with its id), which binds it
  // to this key: a session the gateway never saw is refused (sessions-bound-to-their-key.test.ts).
  const init = await fetch(gw.mcpUrl('up'), { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: '{}' })
  t.equal(init.headers.get('mcp-session-id'), 'sess-123', 'the session id reaches the client')
  await init.arrayBuffer()

  for (const status of [200, 202, 400, 404, 405, 406, 409, 415, 500]) {
    const res = await fetch(`${gw.mcpUrl('up')}?status=${status}&x=a%20b`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/octet-stream',
        'mcp-session-id': 'sess-123',
        'mcp-protocol-version': '2025-11-25',
        'last-event-id': 'evt-7',
        'mcp-future-header': 'kept'
      },
      body: new Uint8Array([0, 255, 1, 254, 10, 13])
    })
    t.equal(res.status, status, `${status} passed through`)
    t.equal(res.headers.get('mcp-session-id'), 'sess-123')
    t.equal(res.headers.get('mcp-protocol-version'), '2025-11-25')
    t.equal(res.headers.get('x-custom-upstream'), 'yes')
    const text = await res.text()
    if (status === 202) t.equal(text, '', '202 with an empty body')
    else t.same(JSON.parse(text), { echo: `/mcp?status=${status}&x=a%20b`, body: 'binary' }, `${status}: body verbatim`)
    const seen = upstream.requests.at(-1)!
    t.equal(upstream.requests.length, 2 + [200, 202, 400, 404, 405, 406, 409, 415, 500].indexOf(status), 'each request reached the upstream')
    t.equal(seen.url, `/mcp?status=${status}&x=a%20b`, 'query string kept byte for byte')
    t.same([...seen.bodyBytes], [0, 255, 1, 254, 10, 13], 'raw body bytes forwarded untouched')
    t.equal(seen.headers['content-type'], 'application/octet-stream')
    t.equal(seen.headers['mcp-session-id'], 'sess-123')
    t.equal(seen.headers['mcp-protocol-version'], '2025-11-25')
    t.equal(seen.headers['last-event-id'], 'evt-7')
    t.equal(seen.headers['mcp-future-header'], 'kept', 'unknown headers forwarded')
  }

  const del = await fetch(gw.mcpUrl('up') + '?status=200', { method: 'DELETE', headers: { authorization: `Bearer ${key}`, 'mcp-session-id': 'sess-123' } })
  t.equal(del.status, 200)
  await del.text()
  t.equal(upstream.requests.at(-1)!.method, 'DELETE', 'DELETE forwarded')
})
