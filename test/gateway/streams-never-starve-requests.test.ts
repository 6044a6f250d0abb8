// Open streams never starve a server (DESIGN: "Streams"): with 200 GET streams held open to one
// server (more than the 128 sockets undici's old per-server pool had), a POST to that server is
// answered at once — streams do not take the sockets short requests need. And no request waits on
// a pool without bound: past a server's budget (gateway.upstream.maxStreams / maxRequests, or the
// server's own) the gateway answers 503 MCPGATE_UPSTREAM_BUSY with Retry-After at once, logs a
// warning naming the server and counts it, and the other kind of exchange is unaffected.
import type { ServerResponse } from 'node:http'
import t from 'tap'
import { createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { openStream, type OpenStream } from '../helpers/mcp-raw.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'
import { pollUntil } from '../core/store-contract.ts'

/** An upstream that holds every GET as an idle SSE stream and answers POSTs at once (a POST with ?hold holds too). */
async function streamingUpstream (t: Parameters<typeof startRawUpstream>[0]) {
  const held: ServerResponse[] = []
  const upstream = await startRawUpstream(t, (req, res) => {
    if (req.method === 'GET' || (req.url ?? '').includes('hold')) {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write(': open\n\n')
      held.push(res)
      return
    }
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{"jsonrpc":"2.0","id":1,"result":{}}')
    })
  })
  return { upstream, held }
}

/** A request answered within `ms`, or a failure naming `what` (a starved request would hang). */
async function answered (what: string, request: Promise<Response>, ms = 5000): Promise<Response> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms) })
  try {
    return await Promise.race([request, timeout])
  } finally {
    clearTimeout(timer)
  }
}

t.test('200 open streams to a server, then a POST to it: answered at once', async t => {
  const { upstream, held } = await streamingUpstream(t)
  const store = await sqliteStore(t)
  const gw = await startGateway(t, { store, config: testConfig({ gateway: { shutdownGraceMs: 100 }, servers: [{ id: 'up', url: `${upstream.origin}/mcp` }] }) })
  const { key } = await createTestKey(store)
  const headers = { authorization: `Bearer ${key}`, accept: 'text/event-stream' }

  const streams: OpenStream[] = []
  for (let i = 0; i < 200; i++) streams.push(await openStream(gw.mcpUrl('up'), { method: 'GET', headers }))
  t.ok(streams.every(s => s.status === 200), '200 streams open')
  t.equal(held.length, 200, 'all 200 reached the upstream, each on its own socket')

  const post = await answered('a POST beside 200 open streams', fetch(gw.mcpUrl('up'), {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: '{"jsonrpc":"2.0","id":1,"method":"ping"}'
  }))
  t.equal(post.status, 200, 'the POST is answered')
  await post.arrayBuffer()
  const metrics = await (await fetch(`${gw.url}/metrics`)).text()
  t.match(metrics, /mcpgate_upstream_open\{server="up",kind="stream"\} 200/, 'the open streams are in a metric')
  t.match(metrics, /mcpgate_sse_streams_open\{server="up"\} 200/)
  // Each stream has a connection of its own, closed with it: none is left open upstream.
  for (const s of streams) {
    s.close()
    await s.ended()
  }
  await pollUntil('the streams\' upstream connections to close', () => upstream.openSockets() <= 1)
  t.ok(upstream.openSockets() <= 1, `${upstream.openSockets()} upstream connection(s) left: the POST's keep-alive one at most`)
})

t.test('past a server\'s budget: 503 MCPGATE_UPSTREAM_BUSY at once, per kind and per server', async t => {
  const { upstream } = await streamingUpstream(t)
  const store = await sqliteStore(t)
  const url = `${upstream.origin}/mcp`
  const gw = await startGateway(t, {
    store,
    config: testConfig({
      gateway: { shutdownGraceMs: 100, upstream: { maxStreams: 3, maxRequests: 2 } },
      servers: [{ id: 'small', url }, { id: 'roomy', url, upstream: { maxStreams: 5 } }]
    })
  })
  const { key } = await createTestKey(store)
  const get = (id: string) => openStream(gw.mcpUrl(id), { method: 'GET', headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' } })
  const post = (id: string, query = '') => fetch(gw.mcpUrl(id) + query, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: '{}' })

  const open = [await get('small'), await get('small'), await get('small')]
  t.ok(open.every(s => s.status === 200), 'three streams: the budget')
  const refused = await answered('the fourth stream', fetch(gw.mcpUrl('small'), { method: 'GET', headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' } }))
  t.equal(refused.status, 503, 'the fourth: 503')
  t.equal(refused.headers.get('retry-after'), '1', 'with Retry-After')
  const body = await refused.json() as { error: { data: { code: string }, message: string } }
  t.equal(body.error.data.code, 'MCPGATE_UPSTREAM_BUSY')
  t.match(body.error.message, /"small"/, 'naming the server')

  const ok = await answered('a POST while streams are at their budget', post('small'))
  t.equal(ok.status, 200, 'requests have their own budget: a POST still passes')
  await ok.arrayBuffer()

  const roomy = [await get('roomy'), await get('roomy'), await get('roomy'), await get('roomy')]
  t.ok(roomy.every(s => s.status === 200), 'a server\'s own maxStreams (5) overrides the default (3)')

  // Requests: two held POSTs are the budget; the third is refused, streams are unaffected.
  const heldPosts = [await openStream(gw.mcpUrl('small') + '?hold', { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: '{}' }),
    await openStream(gw.mcpUrl('small') + '?hold', { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: '{}' })]
  t.ok(heldPosts.every(s => s.status === 200), 'two streamed answers in flight')
  const third = await answered('a third POST', post('small'))
  t.equal(third.status, 503, 'the third request: 503')
  await third.arrayBuffer()

  // Budgets free up as exchanges end.
  open[0]?.close()
  await open[0]?.ended()
  let again: OpenStream | undefined
  for (let i = 0; i < 100 && again?.status !== 200; i++) {
    again?.close()
    again = await get('small')
  }
  t.equal(again?.status, 200, 'a stream that ended gives its place back')

  const warnings = gw.logs.lines.map(l => JSON.parse(l) as Record<string, unknown>).filter(l => l.level === 40 && l.serverId === 'small')
  t.same(warnings.map(w => w.kind).sort(), ['request', 'stream'], 'one warning per server and kind (throttled), naming the server')
  const metrics = await (await fetch(`${gw.url}/metrics`)).text()
  t.match(metrics, /mcpgate_upstream_busy_total\{server="small",kind="stream"\} 1/, 'refusals counted')
  t.match(metrics, /mcpgate_upstream_busy_total\{server="small",kind="request"\} 1/)
  for (const s of [...open, ...roomy, ...heldPosts, again]) s?.close()
})
