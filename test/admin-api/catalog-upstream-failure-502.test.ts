// An upstream that cannot be listed answers 502 MCPGATE_CATALOG_UNAVAILABLE with why (refused
// connection, no answer within admin.catalog.timeoutMs — on both transports —, an HTTP error),
// logged with its cause; a failure is not cached: the next request lists again.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { ADMIN_TOKEN, startAdmin, testConfig, type AdminHarness } from '../helpers/admin.ts'
import { startPagedUpstream } from '../helpers/mcp-paged-upstream.ts'

/** A port nothing listens on: bound, then closed. */
async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>(resolve => server.close(() => resolve()))
  return port
}

t.test('unreachable, silent and failing upstreams answer 502', async t => {
  const port = await closedPort()
  const silent = await startPagedUpstream(t, { tools: 2, pageSize: 10, gate: () => 'hang' })
  let mode: 503 | null = 503
  const flaky = await startPagedUpstream(t, { tools: 2, pageSize: 10, gate: () => mode })
  const silentSse = createServer(() => {})
  await new Promise<void>(resolve => silentSse.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => { silentSse.closeAllConnections(); silentSse.close(() => resolve()) }))
  // A short timeout for the silent ones; the flaky one answers, so it gets the default (a busy
  // machine may take more than 300 ms to list a server that works).
  const short = await startAdmin(t, {
    config: testConfig({
      servers: [
        { id: 'down', url: `http://127.0.0.1:${port}/mcp` },
        { id: 'down-sse', url: `http://127.0.0.1:${port}/sse` },
        { id: 'silent', url: silent.url },
        { id: 'silent-sse', url: `http://127.0.0.1:${(silentSse.address() as AddressInfo).port}/sse` }
      ],
      admin: { catalog: { timeoutMs: 300 } }
    })
  })
  const h = await startAdmin(t, { config: testConfig({ servers: [{ id: 'flaky', url: flaky.url }] }) })
  const get = (harness: AdminHarness, id: string) => harness.request({ method: 'GET', url: `/api/mcp-servers/${id}/catalog`, token: ADMIN_TOKEN })
  const unavailable = async (harness: AdminHarness, id: string, reason: RegExp) => {
    const started = Date.now()
    const res = await get(harness, id)
    t.equal(res.statusCode, 502, `${id}: 502`)
    t.equal(res.json().code, 'MCPGATE_CATALOG_UNAVAILABLE', `${id}: code`)
    t.match(res.json().message, new RegExp(`^The tools, prompts and resources of MCP server "${id}" could not be listed: ${reason.source}$`), `${id}: says why`)
    t.ok(Date.now() - started < 5000, `${id}: answered within the timeout's bound`)
  }

  await unavailable(short, 'down', /it could not be reached \(ECONNREFUSED\)/)
  await unavailable(short, 'down-sse', /it could not be reached/)
  await unavailable(short, 'silent', /no answer within 300 ms/)
  await unavailable(short, 'silent-sse', /no answer within 300 ms/)
  await unavailable(h, 'flaky', /it answered HTTP 503/)
  const logged = [...short.logs, ...h.logs].filter(l => l.msg === 'admin request failed' && l.err?.code === 'MCPGATE_CATALOG_UNAVAILABLE')
  t.equal(logged.length, 5, 'every failure is logged')

  mode = null
  const res = await get(h, 'flaky')
  t.equal(res.statusCode, 200, 'a failure is not cached: once the upstream answers, so does the catalog')
  t.equal(res.json().tools.length, 2)
})
