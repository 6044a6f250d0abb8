// Hardening drill, finding 8: every client that left before the upstream answered wrote a WARN
// line with a stack trace (900 lines for 900 aborts). A client leaving is normal: it is counted
// (the access line and the requests metric say 499) and logged at debug, without a stack.
import { request } from 'node:http'
import t from 'tap'
import { createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

const CLIENTS = 30

t.test('clients that leave before the upstream answers: 499, no warning', async t => {
  // The upstream never answers: every client gives up first.
  const upstream = await startRawUpstream(t, () => {})
  const store = await sqliteStore(t)
  const gw = await startGateway(t, { store, config: testConfig({ log: { level: 'debug' }, servers: [{ id: 'up', url: `${upstream.origin}/mcp` }] }) })
  const { key } = await createTestKey(store)
  const port = new URL(gw.url).port

  await Promise.all(Array.from({ length: CLIENTS }, async () => {
    const req = request({ host: '127.0.0.1', port, path: '/mcp-connect/up', method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } })
    req.on('error', () => {})
    req.end('{}')
    const before = upstream.requests.length
    await upstream.waitForRequest(() => upstream.requests.length > before)
    req.destroy()
  }))
  // The gateway aborts the upstream request from the client response's 'close', after that
  // response's access line: once the upstream saw every request close, every line is written.
  await Promise.all(upstream.requests.map(r => r.closed))

  const lines = gw.logs.lines.map(l => JSON.parse(l) as Record<string, unknown>)
  t.equal(lines.filter(l => l.msg === 'access').length, CLIENTS, 'one access line each')
  t.equal(lines.filter(l => (l.level as number) >= 40).length, 0, 'no warning or error')
  t.notMatch(gw.logs.text(), /"stack"/, 'no stack trace anywhere')
  t.equal(lines.filter(l => l.msg === 'client went away before the upstream answered').length, CLIENTS, 'one debug line each')
  const access = lines.filter(l => l.msg === 'access')
  t.ok(access.every(l => l.status === 499), 'the access lines say 499')
  const metrics = await (await fetch(`${gw.url}/metrics`)).text()
  t.match(metrics, new RegExp(`mcpgate_gateway_requests_total\\{server="up",method="POST",status="499"\\} ${CLIENTS}`), 'counted')
})
