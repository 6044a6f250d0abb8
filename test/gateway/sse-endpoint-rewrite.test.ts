// The legacy `event: endpoint` rewrite: the first event's data becomes the gateway path whatever
// the chunking (every split point, CRLF split in half, UTF-8 split mid-character, random chunkings
// by fast-check); every later byte passes untouched; the buffer is bounded.
import t from 'tap'
import fc from 'fast-check'
import { ServerRegistry } from '../../gateway/registry.ts'
import { gatewayEndpoint, SseEndpointRewrite } from '../../gateway/sse-endpoint-rewrite.ts'

const toGateway = (data: string) => data.startsWith('/messages') ? `/mcp-connect/up${data}` : null

/** Feeds the chunks as the upstream exchange does: until the rewrite is done, then straight through. */
function run (chunks: Buffer[], maxBuffer?: number): { out: Buffer, calls: string[] } {
  const calls: string[] = []
  const rewrite = new SseEndpointRewrite({ rewrite: d => { calls.push(d); return toGateway(d) }, maxBuffer })
  const out: Buffer[] = []
  for (const chunk of chunks) out.push(rewrite.done ? chunk : rewrite.feed(chunk))
  out.push(rewrite.flush())
  return { out: Buffer.concat(out), calls }
}

function splitAt (b: Buffer, points: number[]): Buffer[] {
  const sorted = [...new Set(points)].filter(p => p > 0 && p < b.length).sort((x, y) => x - y)
  const out: Buffer[] = []
  let prev = 0
  for (const p of sorted) { out.push(b.subarray(prev, p)); prev = p }
  out.push(b.subarray(prev))
  return out
}

const later = 'event: message\ndata: {"text":"é✓ /messages?sessionId=nope"}\n\nevent: endpoint\ndata: /messages?x\n\n'
const input = Buffer.from('event: endpoint\ndata: /messages?sessionId=abc\n\n' + later)
const expected = Buffer.from('event: endpoint\ndata: /mcp-connect/up/messages?sessionId=abc\n\n' + later)

t.test('every single split point', async t => {
  for (let i = 0; i <= input.length; i++) {
    const { out, calls } = run(splitAt(input, [i]))
    if (!out.equals(expected)) t.fail(`split at ${i}: ${JSON.stringify(out.toString())}`)
    if (calls.length !== 1) t.fail(`split at ${i}: rewrite called ${calls.length} times`)
  }
  t.pass(`${input.length + 1} splits`)
})

t.test('byte by byte, CRLF line endings, comments first', async t => {
  const crlf = Buffer.from(': keep-alive\r\n\r\nevent: endpoint\r\ndata: /messages?sessionId=1\r\n\r\ndata: rest\r\n\r\n')
  const { out } = run([...crlf].map(b => Buffer.from([b])))
  t.equal(out.toString(), ': keep-alive\r\n\r\nevent: endpoint\r\ndata: /mcp-connect/up/messages?sessionId=1\r\n\r\ndata: rest\r\n\r\n')

  const cr = Buffer.from('event: endpoint\rdata: /messages\r\rdata: x\r\r')
  t.equal((run(splitAt(cr, [15, 16, 30]))).out.toString(), 'event: endpoint\rdata: /mcp-connect/up/messages\r\rdata: x\r\r', 'CR-only line endings')
})

t.test('only the first event is ever considered', async t => {
  const notEndpoint = Buffer.from('event: message\ndata: hi\n\nevent: endpoint\ndata: /messages\n\n')
  const { out, calls } = run([notEndpoint])
  t.ok(out.equals(notEndpoint), 'untouched')
  t.same(calls, [], 'rewrite never asked')

  const foreign = Buffer.from('event: endpoint\ndata: http://elsewhere/x\n\ndata: y\n\n')
  t.ok((run([foreign])).out.equals(foreign), 'an endpoint the mapper refuses stays as it was')
})

t.test('bounded buffer', async t => {
  const huge = Buffer.from('data: ' + 'x'.repeat(20_000))
  const { out, calls } = run(splitAt(huge, [1000, 9000, 17000]), 8192)
  t.ok(out.equals(huge), 'no event boundary within the bound: passed through untouched')
  t.same(calls, [])
})

t.test('fast-check: any chunking gives the same bytes', async t => {
  fc.assert(fc.property(fc.array(fc.nat({ max: input.length }), { maxLength: 12 }), points => {
    const { out } = run(splitAt(input, points))
    return out.equals(expected)
  }), { numRuns: 300 })
  t.pass('300 chunkings')
})

t.test('endpoint URL → gateway path', async t => {
  const registry = new ServerRegistry([{ id: 'up', name: 'up', description: '', url: 'http://u:9/a/sse', headers: {}, access: 'everyone', identityHeaders: false, timeouts: { connectMs: 1, headersMs: 1 }, audit: { arguments: false, redact: [] } }])
  const server = registry.get('up')!
  const requested = new URL('http://u:9/a/sse')
  t.equal(gatewayEndpoint(server, requested, '/a/messages?sessionId=1', ''), '/mcp-connect/up/messages?sessionId=1', 'relative path')
  t.equal(gatewayEndpoint(server, requested, 'messages?sessionId=1', ''), '/mcp-connect/up/messages?sessionId=1', 'relative to the SSE url')
  t.equal(gatewayEndpoint(server, requested, 'http://u:9/a/m/post', '/gw'), '/gw/mcp-connect/up/m/post', 'absolute, same origin, with a public prefix')
  t.equal(gatewayEndpoint(server, requested, '/a/sse?sessionId=2', ''), '/mcp-connect/up?sessionId=2', 'the configured url itself')
  t.equal(gatewayEndpoint(server, requested, 'http://evil:9/a/messages', ''), null, 'another origin: left alone')
  t.equal(gatewayEndpoint(server, requested, '/elsewhere/messages', ''), null, 'outside the directory: left alone')
})
