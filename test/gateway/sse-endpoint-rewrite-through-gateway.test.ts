// The legacy endpoint rewrite as the gateway runs it: a filter inside the upstream exchange that
// sees a GET stream's chunks until the first event is through, then steps aside. Through a real
// gateway and upstream: the first event split over several upstream writes is rewritten whole,
// every later byte arrives untouched, and bytes the filter still holds when the upstream ends the
// stream (a first event that never completed) reach the client before the stream ends.
import t from 'tap'
import { createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

/** Writes each part on its own, each after the previous one has left (separate chunks upstream). */
async function writeParts (res: import('node:http').ServerResponse, parts: string[]): Promise<void> {
  for (const part of parts) {
    await new Promise<void>((resolve, reject) => { res.write(part, err => { if (err) reject(err); else resolve() }) })
  }
}

t.test('a GET stream: split first event rewritten, later bytes untouched, held bytes flushed at the end', async t => {
  let parts: string[] = []
  const upstream = await startRawUpstream(t, async (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.flushHeaders()
    await writeParts(res, parts)
    res.end()
  })
  const store = await sqliteStore(t)
  const gw = await startGateway(t, { store, config: testConfig({ servers: [{ id: 'up', url: `${upstream.origin}/sse` }] }) })
  const { key } = await createTestKey(store)
  const get = async (): Promise<string> => {
    const res = await fetch(gw.mcpUrl('up'), { headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' } })
    t.equal(res.status, 200)
    return await res.text()
  }

  const later = 'event: message\ndata: {"jsonrpc":"2.0","method":"x","params":{"url":"/messages?sessionId=nope"}}\n\n'
  parts = ['event: endp', 'oint\ndata: /messages?sess', 'ionId=abc\n', '\n' + later, later]
  t.equal(await get(), 'event: endpoint\ndata: /mcp-connect/up/messages?sessionId=abc\n\n' + later + later,
    'the endpoint event, sent in four pieces, is rewritten; the events after it pass untouched')

  parts = ['event: endpoint\ndata: /messages?sessionId=', 'unfinished']
  t.equal(await get(), 'event: endpoint\ndata: /messages?sessionId=unfinished',
    'a first event the upstream never finished: the held bytes still reach the client')
  t.equal(upstream.requests.length, 2)
})

t.test('an endpoint the gateway cannot route is passed on unchanged, and the operator is told why', async t => {
  const upstream = await startRawUpstream(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.end('event: endpoint\ndata: /elsewhere/messages?sessionId=abc\n\n')
  })
  const store = await sqliteStore(t)
  const gw = await startGateway(t, { store, config: testConfig({ servers: [{ id: 'up', url: `${upstream.origin}/mcp/sse` }] }) })
  const { key } = await createTestKey(store)
  const res = await fetch(gw.mcpUrl('up'), { headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' } })
  t.equal(await res.text(), 'event: endpoint\ndata: /elsewhere/messages?sessionId=abc\n\n', 'outside /mcp/: not rewritten')
  const warning = gw.logs.lines.map(l => JSON.parse(l) as Record<string, unknown>).find(l => l.level === 40 && l.serverId === 'up')
  t.match(warning, { endpoint: `${upstream.origin}/elsewhere/messages`, directory: `${upstream.origin}/mcp/`, msg: /outside the server's directory/ },
    'a warning names the server, the endpoint (without its query) and the directory it should be under')
})
