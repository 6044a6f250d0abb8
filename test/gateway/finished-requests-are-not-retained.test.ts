// Once a request is answered, the gateway keeps nothing of it, even while the client's and the
// upstream's keep-alive connections stay open: its request and response objects are collected at
// the next full GC. Clients that keep connections open between sparse requests (IDEs, agents) would
// otherwise pin one request's whole object graph per connection, and under load those graphs
// outlive young GCs and fill the old generation (bench/README.md, round 9).
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import t from 'tap'
import { Agent, request } from 'undici'
import { createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

t.test('answered requests are collected while their keep-alive connections stay open', async t => {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const upstream = await startRawUpstream(t, (req, res) => {
    if (req.url === '/sse') {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.end('data: one\n\n')
      return
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end('{"jsonrpc":"2.0","id":1,"result":{}}')
  })
  const store = await sqliteStore(t)
  const gw = await startGateway(t, {
    store,
    config: testConfig({ servers: [{ id: 'json', url: `${upstream.origin}/mcp` }, { id: 'sse', url: `${upstream.origin}/sse` }] })
  })
  const { key } = await createTestKey(store)

  // Weak references to every request and response the gateway's HTTP server sees.
  const refs: Array<WeakRef<object>> = []
  gw.app.server.on('request', (req: object, res: object) => { refs.push(new WeakRef(req), new WeakRef(res)) })

  const client = new Agent({ connections: 2, keepAliveTimeout: 60_000 })
  t.teardown(() => client.close())
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' })
  const send = async (serverId: string, auth: string | null, accept = 'application/json, text/event-stream'): Promise<number> => {
    const res = await request(gw.mcpUrl(serverId), {
      dispatcher: client,
      method: 'POST',
      headers: { 'content-type': 'application/json', accept, ...(auth === null ? {} : { authorization: `Bearer ${auth}` }) },
      body
    })
    await res.body.text()
    return res.statusCode
  }
  const statuses = [
    await send('json', key),
    await send('sse', key),
    await send('json', null),
    await send('json', key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A')),
    await send('nope', key)
  ]
  t.same(statuses, [200, 200, 401, 401, 404], 'proxied JSON, proxied SSE, and three refusals')
  t.equal(refs.length, 10, 'the server saw five requests')

  // Each response's 'close' comes a tick after it finished; then a full GC.
  await new Promise(resolve => setImmediate(resolve))
  await new Promise(resolve => setImmediate(resolve))
  gc()
  const alive = refs.filter(r => r.deref() !== undefined).map(r => r.deref()?.constructor.name)
  t.same(alive, [], 'no request or response object outlived its answer')
  t.equal(await send('json', key), 200, 'the kept-alive connections still serve')
})
