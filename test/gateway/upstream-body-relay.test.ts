// The gateway relays upstream response bodies chunk by chunk (gateway/upstream-exchange.ts): a
// client that stops reading stops the upstream (backpressure, for JSON and for SSE through the
// endpoint rewrite) and then gets every byte; 1xx interim responses are skipped; an upstream that
// dies mid-body cuts the client response instead of ending it or hanging; empty and chunked bodies
// arrive byte-exact on a reused client connection.
import { createHash, randomBytes } from 'node:crypto'
import { Agent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http'
import t from 'tap'
import { createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

const MiB = 1024 * 1024
const BODY_SIZE = 64 * MiB
const CHUNK = 64 * 1024
/**
 * While the client is paused, what the upstream managed to write sits in buffers: mostly the
 * kernel's — the upstream's and the gateway's socket send buffers (up to tcp_wmem max, 4 MiB each
 * here) and the paused client's autotuned receive buffer (~2.5 MiB seen) — plus the gateway's
 * user-space share, which backpressure keeps to about one high-water mark per stream. Measured
 * here: 8 to 10.5 MiB (`ss -tm` during the stall). 16 MiB leaves room for other kernels' autotuning
 * and still fails a gateway that soaks up even a quarter of the 64 MiB body.
 */
const STUCK_BOUND = 16 * MiB

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex')

/** Rejects with `what` if `promise` does not settle within `ms` (a failure message instead of a hang). */
async function within<T> (promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** A plain node:http request (fetch cannot pause or show 1xx): resolves at the response headers. */
function send (url: string, opts: { method?: string, headers: OutgoingHttpHeaders, body?: string, agent?: Agent, onInformation?: (status: number) => void }): Promise<{ res: IncomingMessage, reusedSocket: boolean }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: opts.method ?? 'POST', headers: opts.headers, agent: opts.agent ?? false })
    req.on('error', reject)
    req.on('information', info => opts.onInformation?.(info.statusCode))
    req.on('response', res => resolve({ res, reusedSocket: req.reusedSocket }))
    req.end(opts.body)
  })
}

interface Received {
  bytes: Buffer
  /** 'end' was emitted: the client saw a complete message. */
  ended: boolean
  error: Error | null
}

/** Reads a response to its end or its failure ('close' comes after either). */
function receive (res: IncomingMessage): Promise<Received> {
  return new Promise(resolve => {
    const chunks: Buffer[] = []
    let ended = false
    let error: Error | null = null
    res.on('data', (c: Buffer) => chunks.push(c))
    res.on('end', () => { ended = true })
    res.on('error', err => { error = err })
    res.on('close', () => resolve({ bytes: Buffer.concat(chunks), ended, error }))
  })
}

/** The upstream side of a large body: what it has handed to res.write() and whether it waits. */
class Sender {
  written = 0
  waitingForDrain = false
  finished = false
  #firstBlock!: () => void
  /** Resolves the first time res.write() returns false. */
  readonly firstBlock = new Promise<void>(resolve => { this.#firstBlock = resolve })

  /** Writes `body` in CHUNK pieces, honouring write()'s return value and 'drain'. */
  pump (res: ServerResponse, body: Buffer): void {
    res.on('finish', () => { this.finished = true })
    const next = (): void => {
      this.waitingForDrain = false
      while (this.written < body.length) {
        const chunk = body.subarray(this.written, this.written + CHUNK)
        this.written += chunk.length
        if (!res.write(chunk)) {
          this.waitingForDrain = true
          this.#firstBlock()
          res.once('drain', next)
          return
        }
      }
      res.end()
    }
    next()
  }
}

/**
 * Being stuck is the absence of an event ('drain' never comes), so it can only be observed over a
 * window: poll every 10 ms, for at most `deadlineMs`, until the sender has been waiting for 'drain'
 * with an unchanged byte count for `quietMs` in a row. The gateway, the upstream and the client
 * share this event loop, so every poll also lets pending socket I/O run: a relay still moving
 * bytes shows up as a changed count. False if the sender finished or the deadline passed.
 */
async function untilStuck (sender: Sender, quietMs: number, deadlineMs: number): Promise<boolean> {
  const deadline = Date.now() + deadlineMs
  let seen = -1
  let since = Date.now()
  for (;;) {
    if (sender.finished) return false
    if (!sender.waitingForDrain || sender.written !== seen) {
      seen = sender.written
      since = Date.now()
    } else if (Date.now() - since >= quietMs) {
      return true
    }
    if (Date.now() > deadline) return false
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

/** SSE text in CHUNK-sized pieces, each a distinct event (so a lost or reordered chunk changes the hash). */
function sseBody (size: number): Buffer {
  const pieces: Buffer[] = []
  for (let i = 0; i < size / CHUNK; i++) {
    const data = randomBytes(CHUNK).toString('base64').slice(0, CHUNK - 'data: \n\n'.length)
    pieces.push(Buffer.from(`data: ${data}\n\n`))
  }
  return Buffer.concat(pieces)
}

/** The 100 bytes the dying upstream sends of the 1000 it announced. */
const CUT_PREFIX = Buffer.from('{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"'.padEnd(100, 'x'))
const HINTED_BODY = JSON.stringify({ jsonrpc: '2.0', id: 7, result: { content: [{ type: 'text', text: 'after the hints' }] } })
/** Pieces written one by one, with framing look-alikes and a UTF-8 sequence split across writes. */
const CHUNKED_PIECES = [
  Buffer.from('{"part":1,'),
  Buffer.from([0x00, 0xff, 0x0d, 0x0a]),
  Buffer.from('\r\n0\r\n\r\n'),
  Buffer.from('€').subarray(0, 1),
  Buffer.from('€').subarray(1),
  randomBytes(100 * 1024),
  Buffer.from('"end":true}')
]

t.test('upstream body relay', async t => {
  const bodies = { octet: randomBytes(BODY_SIZE), sse: sseBody(BODY_SIZE) }
  const senders = new Map<string, Sender>()
  const upstream = await startRawUpstream(t, async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://upstream').pathname
    switch (path) {
      case '/big':
      case '/big-sse': {
        const body = path === '/big' ? bodies.octet : bodies.sse
        const sender = new Sender()
        senders.set(path, sender)
        res.writeHead(200, path === '/big'
          ? { 'content-type': 'application/octet-stream', 'content-length': String(body.length) }
          : { 'content-type': 'text/event-stream' })
        sender.pump(res, body)
        return
      }
      case '/hints': {
        // Each interim response is flushed to the socket before the next one is written.
        await new Promise<void>(resolve => res.writeProcessing(resolve))
        await new Promise<void>(resolve => res.writeEarlyHints({ link: '</x>; rel=preload' }, resolve))
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(HINTED_BODY)), 'x-final': 'yes' })
        res.end(HINTED_BODY)
        return
      }
      case '/cut-length':
      case '/cut-chunked': {
        res.writeHead(200, path === '/cut-length'
          ? { 'content-type': 'application/json', 'content-length': '1000' }
          : { 'content-type': 'application/json' })
        // The 100 bytes reach the kernel, then the connection dies without the rest.
        res.write(CUT_PREFIX, () => res.socket?.destroy())
        return
      }
      case '/no-content':
        res.writeHead(204, { 'x-kind': 'no-content' })
        res.end()
        return
      case '/zero':
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '0' })
        res.end()
        return
      case '/chunked':
        res.writeHead(200, { 'content-type': 'application/octet-stream' })
        for (const piece of CHUNKED_PIECES) await new Promise(resolve => res.write(piece, resolve))
        res.end()
        return
      case '/chunked-empty':
        // Headers go out as chunked before the (empty) end: only the terminating chunk follows.
        res.writeHead(200, { 'content-type': 'application/octet-stream' })
        res.flushHeaders()
        res.end()
        return
      default:
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end('{"ok":true}')
    }
  }, { readBody: true })
  const store = await sqliteStore(t)
  const gw = await startGateway(t, { store, config: testConfig({ servers: [{ id: 'relay', url: `${upstream.origin}/mcp` }] }) })
  const { key } = await createTestKey(store)
  const auth = { authorization: `Bearer ${key}` }
  const cutLines = (): number => gw.logs.lines.filter(l => l.includes('upstream response failed midway')).length

  for (const [name, path, method] of [['JSON (POST)', 'big', 'POST'], ['SSE through the endpoint rewrite (GET)', 'big-sse', 'GET']] as const) {
    await t.test(`backpressure: ${name}`, async t => {
      const body = path === 'big' ? bodies.octet : bodies.sse
      const started = Date.now()
      const { res } = await send(gw.mcpUrl('relay', path), { method, headers: { ...auth, accept: 'application/json, text/event-stream' }, body: method === 'POST' ? '{}' : undefined })
      res.pause() // right after the headers, before any body byte is read
      t.equal(res.statusCode, 200)
      if (path === 'big') t.equal(res.headers['content-length'], String(BODY_SIZE), 'content-length relayed')
      else t.equal(res.headers['content-type'], 'text/event-stream')

      const sender = senders.get(`/${path}`)
      t.ok(sender, 'the upstream got the request')
      if (sender === undefined) return
      await within(sender.firstBlock, 5000, "the upstream's first write() returning false")
      const stuck = await untilStuck(sender, 300, 10_000)
      t.ok(stuck, `the upstream is stuck waiting for 'drain' while the client does not read (wrote ${(sender.written / MiB).toFixed(1)} MiB)`)
      t.ok(sender.written < STUCK_BOUND, `the upstream wrote ${sender.written} bytes, < ${STUCK_BOUND} (socket buffers, not the whole body)`)
      t.notOk(sender.finished, 'the upstream did not finish while the client was paused')

      const hash = createHash('sha256')
      let length = 0
      const done = new Promise<void>((resolve, reject) => {
        res.on('data', (c: Buffer) => { hash.update(c); length += c.length })
        res.on('end', resolve)
        res.on('error', reject)
      })
      res.resume()
      await within(done, 30_000, 'the client receiving the whole body after resuming')
      t.equal(length, BODY_SIZE, 'every byte arrived')
      t.equal(hash.digest('hex'), sha256(body), 'the bytes arrived intact and in order (sha256)')
      t.ok(sender.finished, 'the upstream finished once the client read')
      t.equal(cutLines(), 0, 'no body error logged')
      t.comment(`${name}: ${BODY_SIZE / MiB} MiB relayed in ${Date.now() - started} ms`)
    })
  }

  await t.test('1xx interim responses are skipped; the final 200 arrives intact', async t => {
    const interim: number[] = []
    const { res } = await send(gw.mcpUrl('relay', 'hints'), { headers: { ...auth, 'content-type': 'application/json' }, body: '{}', onInformation: s => interim.push(s) })
    const got = await within(receive(res), 5000, 'the final response')
    t.equal(res.statusCode, 200)
    t.equal(got.error, null)
    t.ok(got.ended, 'the response ended normally')
    t.equal(got.bytes.toString('utf8'), HINTED_BODY, 'the body is exactly the final response body')
    t.equal(res.headers['content-type'], 'application/json')
    t.equal(res.headers['x-final'], 'yes')
    t.equal(res.headers['content-length'], String(Buffer.byteLength(HINTED_BODY)), "the final response's content-length")
    t.equal(res.headers.link, undefined, 'the early hint header did not leak into the final response')
    t.same(interim, [], 'no interim response relayed to the client')
    t.equal(upstream.requests.filter(r => r.url === '/hints').length, 1, 'one upstream request')
  })

  // A keep-alive client: a response ended short instead of cut would leave it waiting for the
  // missing bytes (content-length) or take the body as complete (chunked).
  const keepAlive = new Agent({ keepAlive: true })
  t.teardown(() => keepAlive.destroy())
  for (const path of ['cut-length', 'cut-chunked']) {
    await t.test(`${path}: an upstream dying mid-body cuts the client response; the gateway keeps serving`, async t => {
      const before = cutLines()
      const { res } = await send(gw.mcpUrl('relay', path), { headers: { ...auth, 'content-type': 'application/json' }, body: '{}', agent: keepAlive })
      const got = await within(receive(res), 5000, 'the client response settling (not hanging)')
      t.equal(res.statusCode, 200, 'the headers were relayed')
      if (path === 'cut-length') t.equal(res.headers['content-length'], '1000', 'content-length relayed (how a client knows the body is short)')
      t.notOk(got.ended, 'the client did not see a complete body')
      t.not(got.error, null, 'the client response errored')
      t.ok(got.bytes.length < 1000, `short body (${got.bytes.length} bytes)`)
      t.same(got.bytes, CUT_PREFIX.subarray(0, got.bytes.length), 'what arrived is a prefix of what the upstream sent')
      t.equal(cutLines(), before + 1, 'one warn line about the cut')

      const next = await send(gw.mcpUrl('relay', 'ok'), { headers: { ...auth, 'content-type': 'application/json' }, body: '{}', agent: keepAlive })
      const nextBody = await within(receive(next.res), 5000, 'the next response')
      t.equal(next.res.statusCode, 200, 'the next request on the same key is served')
      t.equal(nextBody.bytes.toString('utf8'), '{"ok":true}')
    })
  }

  await t.test('empty and chunked bodies arrive byte-exact on one client connection', async t => {
    // One keep-alive socket for every request: a framing mistake (a stray byte after a 204, a
    // missing terminating chunk) would corrupt or stall the response that follows on it.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    t.teardown(() => agent.destroy())
    const expected = Buffer.concat(CHUNKED_PIECES)
    for (let round = 1; round <= 2; round++) {
      for (const path of ['no-content', 'zero', 'chunked', 'chunked-empty']) {
        const { res, reusedSocket } = await send(gw.mcpUrl('relay', path), { headers: { ...auth, 'content-type': 'application/json' }, body: '{}', agent })
        const got = await within(receive(res), 5000, `${path}: the response`)
        const label = `${path} (round ${round})`
        t.equal(got.error, null, `${label}: no error`)
        t.ok(got.ended, `${label}: complete`)
        if (round > 1 || path !== 'no-content') t.ok(reusedSocket, `${label}: same client connection`)
        switch (path) {
          case 'no-content':
            t.equal(res.statusCode, 204)
            t.equal(res.headers['x-kind'], 'no-content')
            t.equal(got.bytes.length, 0)
            t.equal(res.headers['content-length'], undefined, '204: no content-length')
            t.equal(res.headers['transfer-encoding'], undefined, '204: not chunked')
            break
          case 'zero':
            t.equal(res.statusCode, 200)
            t.equal(res.headers['content-length'], '0')
            t.equal(got.bytes.length, 0)
            break
          case 'chunked':
            t.equal(res.statusCode, 200)
            t.equal(res.headers['content-length'], undefined, 'streamed, not buffered to learn the length')
            t.equal(got.bytes.length, expected.length)
            t.ok(got.bytes.equals(expected), `${label}: byte-exact`)
            break
          case 'chunked-empty':
            t.equal(res.statusCode, 200)
            t.equal(got.bytes.length, 0)
            break
        }
      }
    }
  })
})
