// An event stream whose first event arrives together with the upstream's response headers goes out
// to the client in one socket write holding the status line, the headers and that event (one
// packet, one wake-up of the client, the earliest first byte), not as headers first and the event
// in a second write. POST streams and GET streams (which go through the legacy endpoint rewriter)
// alike. A quiet stream still gets its headers at once: test/gateway/sse-streaming-unbuffered.test.ts.
import { connect, type Socket } from 'node:net'
import { once } from 'node:events'
import t from 'tap'
import { createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

const FIRST = 'event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":0}}\n\n'

/** What the client read on a raw connection after sending `request`, up to the first event. */
async function readUntilFirstEvent (port: number, request: string): Promise<string> {
  const socket = connect(port, '127.0.0.1')
  try {
    await once(socket, 'connect')
    socket.write(request)
    let text = ''
    while (!text.includes(FIRST)) {
      const [chunk] = await once(socket, 'data') as [Buffer]
      text += chunk.toString('latin1')
    }
    return text
  } finally {
    socket.destroy()
  }
}

type Chunk = Buffer | string
/**
 * Counts the non-empty write requests each accepted socket makes: net.Socket funnels _write
 * (one chunk) and _writev (corked chunks, one request) through _writeGeneric.
 */
function countWrites (socket: Socket, counts: number[]): void {
  const i = counts.push(0) - 1
  const s = socket as unknown as { _writeGeneric: (writev: boolean, data: unknown, ...rest: unknown[]) => unknown }
  const write = s._writeGeneric
  s._writeGeneric = function (this: unknown, writev: boolean, data: unknown, ...rest: unknown[]) {
    const chunks = writev ? (data as Array<{ chunk: Chunk }>).map(d => d.chunk) : [data as Chunk]
    if (chunks.some(c => c.length > 0)) counts[i] = (counts[i] ?? 0) + 1
    return write.call(this, writev, data, ...rest)
  }
}

t.test('the first event rides with the response headers', async t => {
  const upstream = await startRawUpstream(t, (_req, res) => {
    // No flushHeaders: node:http sends the headers with the first write, in one packet.
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.write(FIRST)
  })
  const store = await sqliteStore(t)
  const gw = await startGateway(t, { store, config: testConfig({ servers: [{ id: 'up', url: `${upstream.origin}/mcp` }] }) })
  const { key } = await createTestKey(store)
  const port = Number(new URL(gw.url).port)
  const writes: number[] = []
  gw.app.server.on('connection', (socket: Socket) => countWrites(socket, writes))
  const head = (method: string, body: string) => `${method} /mcp-connect/up HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${key}\r\naccept: text/event-stream\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`

  for (const [i, [method, body]] of ([['POST', '{}'], ['GET', '']] as const).entries()) {
    const read = await readUntilFirstEvent(port, head(method, body))
    t.match(read, /^HTTP\/1\.1 200 /, `${method}: status line`)
    t.match(read, /\r\ncontent-type: text\/event-stream\r\n/i, `${method}: headers`)
    t.equal(writes[i], 1, `${method}: status line, headers and first event left in one socket write`)
  }
  t.equal(upstream.requests.length, 2, 'both streams reached the upstream')
})
