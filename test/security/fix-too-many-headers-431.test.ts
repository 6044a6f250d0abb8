// Hardening drill, finding 9: header fields past the ~1,000th were dropped silently by Node's
// parser; with Content-Length among them the upstream got an empty body and the client a 200.
// Every field is now kept, and a request with more than MAX_HEADER_FIELDS is refused with 431
// before anything is forwarded; a request just under the limit passes whole.
import { connect } from 'node:net'
import t from 'tap'
import { MAX_HEADER_FIELDS } from '../../gateway/access-log.ts'
import { createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

/** One raw HTTP/1.1 request with `extra` filler header fields; the status line and body of the answer. */
function rawPost (port: number, key: string, extra: number, body: string): Promise<{ status: number, text: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      let head = `POST /mcp-connect/up HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nConnection: close\r\n`
      for (let i = 0; i < extra; i++) head += `x-f${i}: y\r\n`
      socket.write(`${head}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
    })
    let answer = ''
    socket.on('data', d => { answer += d.toString('utf8') })
    socket.on('end', () => resolve({ status: Number(answer.slice(9, 12)), text: answer }))
    socket.on('error', reject)
  })
}

t.test('too many header fields: 431, never a silently shortened request', async t => {
  const upstream = await startRawUpstream(t, (req, res) => {
    res.end(JSON.stringify({ length: req.headers['content-length'] ?? null }))
  }, { readBody: true })
  const store = await sqliteStore(t)
  const gw = await startGateway(t, { store, config: testConfig({ servers: [{ id: 'up', url: `${upstream.origin}/mcp` }] }) })
  const { key } = await createTestKey(store)
  const port = Number(new URL(gw.url).port)
  const body = '{"jsonrpc":"2.0","id":1,"method":"ping"}'

  const over = await rawPost(port, key, 1100, body)
  t.equal(over.status, 431, '1,100 filler fields: 431')
  t.match(over.text, /MCPGATE_TOO_MANY_HEADERS/)
  t.equal(upstream.requests.length, 0, 'nothing forwarded')

  // Five fields of our own (Host, Authorization, Content-Type, Connection, Content-Length).
  const under = await rawPost(port, key, MAX_HEADER_FIELDS - 5, body)
  t.equal(under.status, 200, `${MAX_HEADER_FIELDS} fields in all: passes`)
  t.equal(upstream.requests[0]?.body, body, 'the body arrived whole')
  t.equal(upstream.requests[0]?.headers['content-length'], String(Buffer.byteLength(body)), 'Content-Length was kept')
})
