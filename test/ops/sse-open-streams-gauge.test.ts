// mcpgate_sse_streams_open follows the event streams being relayed: up when a stream's headers
// arrive, down when the client abandons it and when the upstream ends it.
import type { ServerResponse } from 'node:http'
import t from 'tap'
import { createTestKey, startGateway, testConfig, type TestGateway } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { parsePrometheusText } from '../helpers/prometheus.ts'
import { sqliteStore } from '../helpers/stores.ts'

async function openStreams (gw: TestGateway): Promise<number | undefined> {
  return parsePrometheusText(await (await fetch(`${gw.url}/metrics`)).text()).value('mcpgate_sse_streams_open', { server: 'events' })
}

async function until (gw: TestGateway, want: number): Promise<number | undefined> {
  const deadline = Date.now() + 5000
  let seen = await openStreams(gw)
  while (seen !== want && Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, 20))
    seen = await openStreams(gw)
  }
  return seen
}

t.test('open SSE streams gauge', async t => {
  const open: ServerResponse[] = []
  const upstream = await startRawUpstream(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.write('data: hello\n\n')
    open.push(res)
  })
  const store = await sqliteStore(t)
  const gw = await startGateway(t, { store, config: testConfig({ servers: [{ id: 'events', url: `${upstream.origin}/sse` }] }) })
  const { key } = await createTestKey(store)

  async function stream (): Promise<{ abort: () => void, read: () => Promise<ReadableStreamReadResult<Uint8Array>> }> {
    const controller = new AbortController()
    const res = await fetch(gw.mcpUrl('events'), { headers: { authorization: `Bearer ${key}` }, signal: controller.signal })
    const reader = res.body!.getReader()
    await reader.read()
    return { abort: () => controller.abort(), read: () => reader.read() }
  }

  t.equal(await openStreams(gw), undefined, 'no series before the first stream')
  const first = await stream()
  const second = await stream()
  t.equal(await until(gw, 2), 2, 'two streams open')

  first.abort()
  t.equal(await until(gw, 1), 1, 'the client abandoned one')

  open[1]!.end()
  t.equal((await second.read()).done, true, 'the upstream ended the other')
  t.equal(await until(gw, 0), 0, 'none open')

  const m = parsePrometheusText(await (await fetch(`${gw.url}/metrics`)).text())
  t.equal(m.value('mcpgate_upstream_response_seconds_count', { server: 'events' }), 2, 'both stream openings timed')
  t.equal(m.value('mcpgate_gateway_requests_total', { server: 'events', method: 'GET', status: '200' }), 2, 'both counted when they ended')
})
