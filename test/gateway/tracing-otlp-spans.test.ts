// Tracing (telemetry.otlp.endpoint): an OTLP/HTTP collector stand-in receives, per MCP request, a
// server span named after the MCP method and target (mcp.method.name, gen_ai.tool.name, the
// gateway's server id, the session as a digest) whose parent is the client's traceparent, and an
// upstream child span whose context the upstream received as traceparent. No key, no session id in
// any span. Off (no endpoint): the client's traceparent passes upstream untouched.
import { EventEmitter, once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { connectStreamable, createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { startMcpUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

interface OtlpSpan { traceId: string, spanId: string, parentSpanId?: string, name: string, kind: number, attributes: Array<{ key: string, value: { stringValue?: string, intValue?: string | number } }> }

/** A collector stand-in: every span of every OTLP/HTTP JSON export it gets. */
async function collector (t: Parameters<typeof startGateway>[0]) {
  const spans: OtlpSpan[] = []
  const bodies: string[] = []
  const exports = new EventEmitter()
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8')
      bodies.push(text)
      const doc = JSON.parse(text) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: OtlpSpan[] }> }> }
      for (const rs of doc.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans)
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
      exports.emit('export')
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => server.close(() => resolve())))
  /**
   * Resolves once the spans received satisfy `done`: a forced flush does not wait for an export
   * the processor's timer already started, so what it sent may still be on its way.
   */
  const until = async (done: (all: OtlpSpan[]) => boolean): Promise<void> => {
    while (!done(spans)) await once(exports, 'export')
  }
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`, spans, bodies, until }
}

const attr = (s: OtlpSpan | undefined, key: string): string | number | undefined => {
  const v = s?.attributes.find(a => a.key === key)?.value
  return v?.stringValue ?? (v?.intValue === undefined ? undefined : Number(v.intValue))
}

t.test('a server span per request, an upstream child span, traceparent in and out', async t => {
  const sink = await collector(t)
  const upstream = await startMcpUpstream(t)
  const store = await sqliteStore(t)
  const traced = await startGateway(t, {
    store,
    config: testConfig({ gateway: { shutdownGraceMs: 100 }, telemetry: { otlp: { endpoint: sink.url, headers: {} }, flushMs: 50 }, servers: [{ id: 'up', url: upstream.mcpUrl }] })
  })
  const key = await createTestKey(store)
  const parentTrace = '0af7651916cd43dd8448eb211c80319c'
  const parentSpan = 'b7ad6b7169203331'
  const { client, transport } = await connectStreamable(t, traced.mcpUrl('up'), key.key)
  // One request with the client's own trace context: the gateway's span continues it.
  const res = await fetch(traced.mcpUrl('up'), {
    method: 'POST',
    headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': transport.sessionId ?? '', 'mcp-protocol-version': '2025-11-25', traceparent: `00-${parentTrace}-${parentSpan}-01` },
    body: JSON.stringify({ jsonrpc: '2.0', id: 42, method: 'tools/call', params: { name: 'echo', arguments: { text: 'traced' } } })
  })
  await res.arrayBuffer()
  await client.listTools()
  await traced.app.mcpgate.telemetry?.flush()

  await sink.until(all => all.some(s => s.name === 'tools/list') && all.some(c => c.kind === 3 && all.some(s => s.name === 'tools/call echo' && c.parentSpanId === s.spanId)))
  const call = sink.spans.find(s => s.name === 'tools/call echo')
  t.ok(call, 'the call\'s server span, named "{method} {tool}"')
  t.equal(call?.kind, 2, 'kind SERVER')
  t.equal(call?.traceId, parentTrace, 'in the client\'s trace')
  t.equal(call?.parentSpanId, parentSpan, 'the client\'s span is its parent')
  t.equal(attr(call, 'mcp.method.name'), 'tools/call')
  t.equal(attr(call, 'gen_ai.tool.name'), 'echo')
  t.equal(attr(call, 'mcpgate.server.id'), 'up')
  t.equal(attr(call, 'mcpgate.key.id'), key.keyId)
  t.equal(attr(call, 'http.response.status_code'), 200)
  t.match(String(attr(call, 'mcp.session.id')), /^[0-9a-f]{16}$/, 'the session as a digest')

  const child = sink.spans.find(s => s.parentSpanId === call?.spanId)
  t.equal(child?.kind, 3, 'the upstream call: a CLIENT child span')
  t.equal(child?.traceId, parentTrace)
  const seen = upstream.requests.find(r => r.body.includes('"traced"'))
  t.equal(seen?.headers.traceparent, `00-${parentTrace}-${child?.spanId ?? ''}-01`, 'the upstream got the child span as its parent')
  t.ok(sink.spans.some(s => s.name === 'tools/list'), 'the list call has its span too')
  const all = sink.bodies.join('')
  t.notOk(all.includes(key.secret), 'no secret in any export')
  t.notOk(all.includes(transport.sessionId ?? 'x'), 'no session id in any export')
})

t.test('tracing off: the client\'s traceparent goes upstream untouched', async t => {
  const upstream = await startMcpUpstream(t)
  const store = await sqliteStore(t)
  const gw = await startGateway(t, { store, config: testConfig({ servers: [{ id: 'up', url: upstream.mcpUrl }] }) })
  t.equal(gw.app.mcpgate.telemetry, null, 'no endpoint: no tracing')
  const key = await createTestKey(store)
  const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
  const res = await fetch(gw.mcpUrl('up'), {
    method: 'POST',
    headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', traceparent },
    body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } })
  })
  await res.arrayBuffer()
  t.equal(upstream.requests[0]?.headers.traceparent, traceparent)
})
