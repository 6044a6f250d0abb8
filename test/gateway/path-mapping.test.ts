// /mcp-connect/<id> → the configured url exactly; /mcp-connect/<id>/<rest> → <rest> inside the
// url's directory; the client's query string kept (after the configured one).
import t from 'tap'
import { createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

t.test('path mapping', async t => {
  const upstream = await startRawUpstream(t, (_req, res) => { res.end('{}') })
  const store = await sqliteStore(t)
  const gw = await startGateway(t, {
    store,
    config: testConfig({
      servers: [
        { id: 'deep', url: `${upstream.origin}/base/v1/mcp` },
        { id: 'tok', url: `${upstream.origin}/svc/mcp?tenant=t1` },
        { id: 'root', url: `${upstream.origin}/` }
      ]
    })
  })
  const { key } = await createTestKey(store)

  const cases: Array<[string, string]> = [
    ['/mcp-connect/deep', '/base/v1/mcp'],
    ['/mcp-connect/deep?a=1&b=%2F', '/base/v1/mcp?a=1&b=%2F'],
    ['/mcp-connect/deep/', '/base/v1/'],
    ['/mcp-connect/deep/messages?page=x-1', '/base/v1/messages?page=x-1'],
    ['/mcp-connect/deep/a/b/c', '/base/v1/a/b/c'],
    ['/mcp-connect/deep/mcp', '/base/v1/mcp'],
    ['/mcp-connect/deep/http:evil.example', '/base/v1/http:evil.example'],
    ['/mcp-connect/deep/javascript:x/y', '/base/v1/javascript:x/y'],
    ['/mcp-connect/tok', '/svc/mcp?tenant=t1'],
    ['/mcp-connect/tok?x=2', '/svc/mcp?tenant=t1&x=2'],
    ['/mcp-connect/tok/messages?page=9', '/svc/messages?tenant=t1&page=9'],
    ['/mcp-connect/root', '/'],
    ['/mcp-connect/root/sse', '/sse']
  ]
  for (const [path, expected] of cases) {
    const before = upstream.requests.length
    const res = await fetch(gw.url + path, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: '{}' })
    t.equal(res.status, 200, path)
    await res.text()
    t.equal(upstream.requests[before]?.url, expected, `${path} → ${expected}`)
  }
})
