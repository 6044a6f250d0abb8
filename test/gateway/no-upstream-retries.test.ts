// The gateway never retries upstream requests: a POST whose connection dies is answered 502 after
// one attempt (it may have had effects), and a GET answered 503 is relayed, not retried (reply-from
// would retry it up to 10 times by default).
import t from 'tap'
import { createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

t.test('no retries', async t => {
  const upstream = await startRawUpstream(t, (req, res) => {
    if (req.url === '/reset') {
      req.socket.destroy()
      return
    }
    res.writeHead(503, { 'retry-after': '0', 'content-type': 'application/json' })
    res.end('{"busy":true}')
  }, { readBody: true })
  const store = await sqliteStore(t)
  const gw = await startGateway(t, {
    store,
    config: testConfig({ servers: [{ id: 'reset', url: `${upstream.origin}/reset` }, { id: 'busy', url: `${upstream.origin}/busy` }] })
  })
  const { key } = await createTestKey(store)
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' }

  const post = await fetch(gw.mcpUrl('reset'), { method: 'POST', headers, body: '{"jsonrpc":"2.0","id":1,"method":"tools/call"}' })
  t.equal(post.status, 502)
  t.equal(((await post.json()) as { error: { data: { code: string } } }).error.data.code, 'MCPGATE_UPSTREAM_UNREACHABLE')
  t.equal(upstream.requests.filter(r => r.url === '/reset').length, 1, 'the POST was sent exactly once')

  const get = await fetch(gw.mcpUrl('reset'), { headers })
  t.equal(get.status, 502)
  await get.arrayBuffer()
  t.equal(upstream.requests.filter(r => r.url === '/reset').length, 2, 'the GET was sent exactly once')

  const busy = await fetch(gw.mcpUrl('busy'), { headers })
  t.equal(busy.status, 503, 'upstream 503 relayed')
  t.same(await busy.json(), { busy: true })
  t.equal(upstream.requests.filter(r => r.url === '/busy').length, 1, 'and not retried')
})
