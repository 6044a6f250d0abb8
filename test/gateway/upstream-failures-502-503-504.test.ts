// Upstream failures, mapped in one place: upstream 401/403 → 502 MCPGATE_UPSTREAM_AUTH_FAILED
// (its WWW-Authenticate never relayed), refused connection → 502, connect timeout → 503,
// response-headers timeout → 504.
import { createServer as createNetServer, type Socket } from 'node:net'
import t from 'tap'
import type { Test } from 'tap'
import { createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

/** Accepts TCP and never speaks: a TLS handshake to it never completes (a connect timeout). */
async function silentTcp (t: Test): Promise<number> {
  const sockets = new Set<Socket>()
  const server = createNetServer(s => { sockets.add(s); s.on('error', () => {}) })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => { for (const s of sockets) s.destroy(); server.close(() => resolve()) }))
  return (server.address() as { port: number }).port
}

/** A port nothing listens on (bound, then released). */
async function closedPort (): Promise<number> {
  const server = createNetServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>(resolve => server.close(() => resolve()))
  return port
}

t.test('upstream failures', async t => {
  const refusing = await startRawUpstream(t, (req, res) => {
    const status = req.url === '/401' ? 401 : 403
    res.writeHead(status, {
      'www-authenticate': 'Bearer resource_metadata="http://upstream/.well-known/oauth-protected-resource"',
      'x-upstream-detail': 'secret-ish',
      'content-type': 'application/json'
    })
    res.end('{"error":"upstream says no"}')
  })
  const hanging = await startRawUpstream(t, () => { /* never answers */ })
  const silent = await silentTcp(t)
  const store = await sqliteStore(t)
  const gw = await startGateway(t, {
    store,
    config: testConfig({
      servers: [
        { id: 'u401', url: `${refusing.origin}/401` },
        { id: 'u403', url: `${refusing.origin}/403` },
        { id: 'refused', url: `http://127.0.0.1:${await closedPort()}/mcp` },
        { id: 'connect-timeout', url: `https://127.0.0.1:${silent}/mcp`, timeouts: { connectMs: 200 } },
        { id: 'headers-timeout', url: `${hanging.origin}/mcp`, timeouts: { headersMs: 200 } }
      ]
    })
  })
  const { key } = await createTestKey(store)

  const cases: Array<[string, number, string]> = [
    ['u401', 502, 'MCPGATE_UPSTREAM_AUTH_FAILED'],
    ['u403', 502, 'MCPGATE_UPSTREAM_AUTH_FAILED'],
    ['refused', 502, 'MCPGATE_UPSTREAM_UNREACHABLE'],
    ['connect-timeout', 503, 'MCPGATE_UPSTREAM_CONNECT_TIMEOUT'],
    ['headers-timeout', 504, 'MCPGATE_UPSTREAM_TIMEOUT']
  ]
  for (const [id, status, code] of cases) {
    for (const method of ['POST', 'GET']) {
      const res = await fetch(gw.mcpUrl(id), { method, headers: { authorization: `Bearer ${key}` }, body: method === 'POST' ? '{}' : undefined })
      t.equal(res.status, status, `${id} ${method}: ${status}`)
      t.equal(res.headers.get('www-authenticate'), null, `${id} ${method}: no WWW-Authenticate relayed`)
      t.equal(res.headers.get('x-upstream-detail'), null, `${id} ${method}: no upstream headers`)
      t.match(res.headers.get('content-type'), /^application\/json/)
      const body = await res.json() as { jsonrpc: string, error: { message: string, data: { code: string } } }
      t.equal(body.error.data.code, code, `${id} ${method}: ${code}`)
      t.notMatch(body.error.message, /resource_metadata|upstream says no/, 'the upstream body is not relayed')
    }
  }
  t.equal(refusing.requests.length, 4, 'each refused request was sent once')
  t.equal(hanging.requests.length, 2, 'timed-out requests were not retried')
})
