// The access log over a varied session: exactly one line per request (an SSE stream the client
// abandons included), carrying the request id, key id, user id, server id, status, duration, bytes
// and the outcome — and never a key or any part of a secret. With log.accessLog off: no lines.
import t from 'tap'
import { checksumOf } from '../../core/key-format.ts'
import { createTestKey, startGateway, testConfig, type TestGateway } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

type Line = Record<string, any>

function accessLines (gw: TestGateway): Line[] {
  return gw.logs.lines.map(l => JSON.parse(l) as Line).filter(l => l.msg === 'access')
}

async function waitFor<T> (fn: () => T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = fn()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error('timed out waiting')
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

t.test('one access line per request, no secret', async t => {
  const upstream = await startRawUpstream(t, (req, res) => {
    if (req.url === '/stream') {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write('data: one\n\n')
      return
    }
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{"jsonrpc":"2.0","id":1,"result":{}}')
    })
  })
  const store = await sqliteStore(t)
  const gw = await startGateway(t, {
    store,
    config: testConfig({
      servers: [{ id: 'alpha', url: `${upstream.origin}/mcp` }, { id: 'beta', url: `${upstream.origin}/mcp` }, { id: 'stream', url: `${upstream.origin}/stream` }]
    })
  })
  const good = await createTestKey(store, { mcpServerIds: ['alpha', 'stream'] })
  const victim = await createTestKey(store)
  const wrongBody = victim.key.slice(0, victim.key.length - victim.secret.length) + 'Q'.repeat(40)
  const wrong = wrongBody + checksumOf(wrongBody)
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' })

  const sent: Array<{ id: string, status: number }> = []
  async function send (id: string, url: string, init: RequestInit = {}): Promise<Response> {
    const res = await fetch(url, { ...init, headers: { ...init.headers as Record<string, string>, 'x-request-id': id } })
    t.equal(res.headers.get('x-request-id'), id, `${id}: the request id comes back`)
    await res.arrayBuffer()
    sent.push({ id, status: res.status })
    return res
  }
  const auth = (key: string) => ({ authorization: `Bearer ${key}` })

  await send('req-1', gw.mcpUrl('alpha'), { method: 'POST', headers: { ...auth(good.key), 'content-type': 'application/json' }, body })
  await send('req-2', gw.mcpUrl('alpha'), { method: 'POST', headers: { ...auth(good.key), 'content-type': 'application/json' }, body })
  await send('req-3', gw.mcpUrl('beta'), { method: 'POST', headers: auth(good.key), body })
  await send('req-4', gw.mcpUrl('alpha'), { method: 'POST', headers: auth(wrong), body })
  await send('req-5', gw.mcpUrl('alpha'), { method: 'POST', body })
  await send('req-6', `${gw.url}/nowhere?api_key=${good.key}`)
  await send('req-7', `${gw.url}/healthz`)
  await send('req-8', gw.mcpUrl('nope'), { method: 'POST', headers: auth(good.key), body })
  await send('req-9', `${gw.url}/api/me`, { headers: { 'x-api-key': good.key } })

  // An SSE stream the client abandons after the first event.
  const controller = new AbortController()
  const stream = await fetch(gw.mcpUrl('stream'), { headers: { ...auth(good.key), 'x-request-id': 'req-sse' }, signal: controller.signal })
  const reader = stream.body!.getReader()
  t.equal(new TextDecoder().decode((await reader.read()).value), 'data: one\n\n')
  controller.abort()
  sent.push({ id: 'req-sse', status: 200 })

  // A malformed request id is replaced, not echoed.
  const bad = await fetch(`${gw.url}/healthz`, { headers: { 'x-request-id': 'not valid\u00e9 id' } })
  const generated = bad.headers.get('x-request-id')
  t.match(generated, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a UUID instead')
  sent.push({ id: generated!, status: 200 })

  const lines = await waitFor(() => {
    const all = accessLines(gw)
    return all.length >= sent.length ? all : undefined
  })
  t.equal(lines.length, sent.length, 'exactly one access line per request')
  const byId = new Map(lines.map(l => [l.reqId, l]))
  for (const { id, status } of sent) {
    const line = byId.get(id)
    t.ok(line, `${id}: has a line`)
    t.equal(line?.status, status, `${id}: status ${status}`)
    t.ok(typeof line?.durationMs === 'number' && line.durationMs >= 0, `${id}: duration`)
    t.ok(line?.bytesIn > 0 && line?.bytesOut > 0, `${id}: bytes in and out`)
    t.equal(line?.ip, '127.0.0.1', `${id}: client address`)
  }

  t.match(byId.get('req-1'), { method: 'POST', path: '/mcp-connect/alpha', serverId: 'alpha', keyId: good.keyId, userId: good.user.id, outcome: 'cache_miss_verified' })
  t.ok(byId.get('req-1')!.bytesIn > body.length, 'bytes in count the body (and headers)')
  t.notOk('code' in byId.get('req-1')!, 'no error code on success')
  t.match(byId.get('req-2'), { outcome: 'cache_hit', keyId: good.keyId })
  t.match(byId.get('req-3'), { serverId: 'beta', keyId: good.keyId, userId: good.user.id, outcome: 'out_of_scope', code: 'MCPGATE_SERVER_NOT_FOUND' })
  t.match(byId.get('req-4'), { outcome: 'invalid', code: 'MCPGATE_KEY_INVALID', keyId: victim.keyId, serverId: 'alpha' })
  t.notOk('userId' in byId.get('req-4')!, 'a refused key names no user')
  t.match(byId.get('req-5'), { outcome: 'missing', code: 'MCPGATE_KEY_MISSING' })
  t.notOk('keyId' in byId.get('req-5')!)
  t.match(byId.get('req-6'), { path: '/nowhere', code: 'MCPGATE_ROUTE_NOT_FOUND' })
  t.notOk('outcome' in byId.get('req-6')!, 'no key was looked at')
  t.match(byId.get('req-7'), { path: '/healthz', method: 'GET' })
  t.match(byId.get('req-8'), { code: 'MCPGATE_SERVER_NOT_FOUND', outcome: 'cache_hit' })
  t.notOk('serverId' in byId.get('req-8')!, 'an unknown server id is not logged as a server')
  t.match(byId.get('req-9'), { path: '/api/me', keyId: good.keyId, outcome: 'cache_hit' })
  t.match(byId.get('req-sse'), { serverId: 'stream', aborted: true, keyId: good.keyId })

  const text = gw.logs.text()
  for (const k of [good, victim]) {
    t.notOk(text.includes(k.key), 'no full key in the log')
    t.notOk(text.includes(k.secret.slice(0, 40)), 'no secret')
    t.notOk(text.includes(k.secret.slice(10, 26)), 'no fragment of a secret')
  }
  t.notOk(text.includes(wrong.slice(-46)), 'no wrong secret either')
  t.notOk(/incoming request|request completed/.test(text), 'Fastify\'s own per-request lines gave way to the access line')
})

t.test('log.accessLog: false writes no access line', async t => {
  const store = await sqliteStore(t)
  const gw = await startGateway(t, { store, config: testConfig({ log: { accessLog: false } }) })
  const res = await fetch(`${gw.url}/healthz`, { headers: { 'x-request-id': 'quiet-1' } })
  t.equal(res.headers.get('x-request-id'), 'quiet-1', 'the request id header stays')
  await fetch(`${gw.url}/nowhere`)
  // Both responses are complete; their close events have run by the time a third request is answered.
  await fetch(`${gw.url}/healthz`)
  t.equal(accessLines(gw).length, 0)
})
