// The bench's flood generator (bench/flood.ts) sends the requests it is asked for, from the
// source addresses it is given, and counts every answer by status — including answers split
// across TCP chunks or sharing one — and counts a connection lost under it as errors.
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { ResponseCounter, flood, serializeRequest, type FloodSpec } from '../../bench/flood.ts'

const BODY = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo' } })

/** Requests seen by a test server: source address and key. */
interface Seen { address: string, key: string }

/** A node:http server on 127.0.0.1:0 answering by `rule(key)`; closed in the test's teardown. */
async function server (t: Test, rule: (key: string, req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string, seen: Seen[], connections: () => number }> {
  const seen: Seen[] = []
  let connections = 0
  const srv = createServer((req, res) => {
    const key = (req.headers.authorization ?? '').replace(/^Bearer /, '')
    seen.push({ address: req.socket.remoteAddress ?? '?', key })
    req.resume()
    req.on('end', () => rule(key, req, res))
  })
  srv.on('connection', () => { connections++ })
  srv.listen(0, '127.0.0.1')
  await once(srv, 'listening')
  t.teardown(() => { srv.closeAllConnections(); srv.close() })
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/mcp-connect/bench`, seen, connections: () => connections }
}

function keysFile (t: Test, keys: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'mcpgate-flood-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'keys.txt')
  writeFileSync(file, keys.join('\n') + '\n')
  return file
}

const spec = (url: string, file: string, rate: number): FloodSpec => ({
  url, rate, durationS: 1, keysFile: file, sources: 2, body: BODY, headers: { 'content-type': 'application/json' }
})

t.test('sends rate × duration requests from the given sources and counts every answer by status', async t => {
  // kNNN: answered NNN; "-split": the head, then the body in two parts, each in its own write.
  const keys = ['k200-a', 'k401-b', 'k429-c', 'k401-d', 'k403-split']
  const { url, seen } = await server(t, (key, _req, res) => {
    const status = Number(key.slice(1, 4))
    const body = JSON.stringify({ status, padding: 'x'.repeat(64) })
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
    if (!key.endsWith('-split')) { res.end(body); return }
    res.flushHeaders()
    setImmediate(() => {
      res.write(body.slice(0, 10))
      setImmediate(() => res.end(body.slice(10)))
    })
  })
  const rate = 200
  const result = await flood(spec(url, keysFile(t, keys), rate))

  t.equal(result.sent + result.skipped, rate * 1, 'rate × duration requests were due')
  t.equal(result.skipped, 0, 'none skipped: the server keeps up')
  t.ok(result.durationS >= 1 && result.durationS < 3, `paced over the duration (${result.durationS} s)`)
  t.equal(seen.length, result.sent, 'the server saw every request sent')
  const expected: Record<string, number> = {}
  for (let i = 0; i < result.sent; i++) {
    const status = (keys[i % keys.length] as string).slice(1, 4)
    expected[status] = (expected[status] ?? 0) + 1
  }
  t.same(result.statuses, expected, 'the answers tallied by status, split answers included')
  const bySource: Record<string, number> = {}
  for (const s of seen) bySource[s.address] = (bySource[s.address] ?? 0) + 1
  t.same(Object.keys(bySource).sort(), ['127.0.0.2', '127.0.0.3'], 'requests came from the two source addresses')
  t.ok(Math.abs((bySource['127.0.0.2'] ?? 0) - (bySource['127.0.0.3'] ?? 0)) <= result.sent / 5, `spread over both (${JSON.stringify(bySource)})`)
  t.ok(result.cpuUs > 0, 'reports its own CPU time')
})

t.test('a connection the server drops counts its requests as errors, and the flood reconnects', async t => {
  const keys = ['k200-a', 'k200-b', 'k200-c', 'kclose']
  const { url, connections } = await server(t, (key, req, res) => {
    if (key === 'kclose') { req.socket.destroy(); return }
    res.writeHead(200, { 'content-length': 2 })
    res.end('{}')
  })
  const rate = 100
  const result = await flood(spec(url, keysFile(t, keys), rate))
  const answered = Object.entries(result.statuses).reduce((n, [, v]) => n + v, 0)
  const errors = Object.entries(result.statuses).filter(([k]) => !/^\d{3}$/.test(k)).reduce((n, [, v]) => n + v, 0)
  const closers = Math.floor(result.sent / keys.length)
  t.equal(result.sent, rate, 'every request was sent')
  t.equal(answered, result.sent, 'every request is counted once: an answer or an error')
  t.ok(errors >= closers, `each dropped request counted as an error (${errors} ≥ ${closers})`)
  t.ok((result.statuses['200'] ?? 0) > 0 && Object.keys(result.statuses).every(k => k === '200' || !/^\d{3}$/.test(k)), `the rest answered 200 (${JSON.stringify(result.statuses)})`)
  t.ok(connections() > 4, `new connections replaced the dropped ones (${connections()} accepted, 4 at a time)`)
})

t.test('the response parser delimits answers wherever the bytes are split', async t => {
  const a = 'HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\nContent-Length: 15\r\n\r\n{"error":"bad"}'
  const b = 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 429 Too Many Requests\r\nretry-after: 3\r\ncontent-length: 0\r\n\r\n'
  const c = 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd'
  const all = Buffer.from(a + b + c + a)
  const want = [401, 429, 200, 401]
  for (let i = 0; i <= all.length; i++) {
    for (const j of [i, Math.min(all.length, i + 1), Math.min(all.length, i + 37)]) {
      const got: number[] = []
      const counter = new ResponseCounter(s => got.push(s))
      const ok = [all.subarray(0, i), all.subarray(i, j), all.subarray(j)].every(part => counter.push(part))
      if (!ok || got.join() !== want.join()) {
        t.fail(`split at ${i}/${j}: got ${got.join()} (ok ${ok})`)
        return
      }
    }
  }
  t.pass('every split into three chunks counts the same four answers')
  const got: number[] = []
  t.ok(new ResponseCounter(s => got.push(s)).push(all), 'all four in one chunk parse')
  t.same(got, want, 'several answers in one chunk are all counted')
  t.notOk(new ResponseCounter(() => {}).push(Buffer.from('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n')), 'an answer without content-length is refused')
})

t.test('requests are serialized once with the key, the body and its length', async t => {
  const req = serializeRequest(new URL('http://127.0.0.1:8080/mcp-connect/x?a=1'), { 'content-type': 'application/json', authorization: 'ignored', Host: 'ignored' }, BODY, 'ok1-key').toString()
  t.equal(req, `POST /mcp-connect/x?a=1 HTTP/1.1\r\nhost: 127.0.0.1:8080\r\ncontent-type: application/json\r\nauthorization: Bearer ok1-key\r\ncontent-length: ${Buffer.byteLength(BODY)}\r\n\r\n${BODY}`)
})
