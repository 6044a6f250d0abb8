// request.log is made on first use (gateway/request-logger.ts): a request that logs nothing at an
// enabled level makes no pino child, and one that does gets exactly one, bound to its request id,
// as Fastify's own child would be. Through a real gateway: a failing upstream's warning and the
// access line both carry the id the client sent.
import { once } from 'node:events'
import { createServer } from 'node:net'
import { Writable } from 'node:stream'
import t from 'tap'
import pino from 'pino'
import { LazyRequestLogger, lazyChildLogger } from '../../gateway/request-logger.ts'
import { LogCapture, createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

type Line = Record<string, unknown>

/** A pino logger counting its children, and the same setup as the gateway's logger options. */
function capture (level: string): { logger: pino.Logger, options: pino.LoggerOptions & { stream: Writable }, lines: Line[], children: () => number } {
  const lines: Line[] = []
  let children = 0
  const stream = new Writable({
    write (chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l) as Line)
      done()
    }
  })
  const options = { level, onChild: () => { children++ }, stream }
  return { logger: pino(options, stream), options, lines, children: () => children }
}

/** The gateway's log lines, with an event per line written. */
class Lines extends LogCapture {
  override _write (chunk: Buffer, enc: BufferEncoding, done: () => void): void {
    super._write(chunk, enc, done)
    this.emit('line')
  }

  parsed (): Line[] { return this.lines.map(l => JSON.parse(l) as Line) }
}

/** pino writes to a Writable synchronously; its _write may still be pending for this tick. */
const flushed = () => new Promise(resolve => setImmediate(resolve))

t.test('no child until something is logged at an enabled level', async t => {
  const { logger, lines, children } = capture('info')
  const log = new LazyRequestLogger(logger, { reqId: 'r-1' })
  log.debug({ a: 1 }, 'not at info')
  log.trace('nor this')
  t.equal(children(), 0, 'disabled levels make no child')
  t.equal(log.level, 'info', 'the level is the parent\'s')
  log.warn({ serverId: 's' }, 'first')
  log.info('second')
  await flushed()
  t.equal(children(), 1, 'one child, made by the first enabled line')
  t.same(lines.map(l => [l.msg, l.reqId, l.level]), [['first', 'r-1', 40], ['second', 'r-1', 30]], 'both lines carry the bindings')
  t.equal(lines[0]?.serverId, 's', 'the logged object is kept')
})

t.test('setting the level makes the child, and only the child changes', async t => {
  const { logger, lines, children } = capture('info')
  const log = new LazyRequestLogger(logger, { reqId: 'r-2' })
  log.level = 'debug'
  t.equal(children(), 1, 'the level lives on the child')
  log.debug('now visible')
  logger.debug('parent stays at info')
  await flushed()
  t.equal(log.level, 'debug')
  t.equal(logger.level, 'info')
  t.same(lines.map(l => [l.msg, l.reqId]), [['now visible', 'r-2']])
})

t.test('a child of the request logger has both bindings', async t => {
  const { logger, lines } = capture('info')
  const log = new LazyRequestLogger(logger, { reqId: 'r-3' })
  log.child({ part: 'x' }).error('failed')
  await flushed()
  t.same(lines.map(l => [l.msg, l.reqId, l.part]), [['failed', 'r-3', 'x']])
})

t.test('a route level or route serializers make the child at once', async t => {
  const { logger, children } = capture('info')
  const eager = lazyChildLogger(logger, { reqId: 'r-4' }, { level: 'debug' })
  t.equal(children(), 1)
  t.equal(eager.level, 'debug')
  const lazy = lazyChildLogger(logger, { reqId: 'r-5' }, {})
  t.ok(lazy instanceof LazyRequestLogger)
  t.equal(children(), 1)
})

t.test('through the gateway: a warning and the access line carry the client\'s request id', async t => {
  // A port that refuses connections: the upstream request fails and the proxy warns.
  const closed = await new Promise<number>(resolve => {
    const s = createServer()
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
  const store = await sqliteStore(t)
  const logs = new Lines()
  const gw = await startGateway(t, { store, logs, config: testConfig({ servers: [{ id: 'gone', url: `http://127.0.0.1:${closed}/mcp` }] }) })
  const key = await createTestKey(store)
  const res = await fetch(`${gw.url}/mcp-connect/gone`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json', 'x-request-id': 'trace-42' },
    body: '{"jsonrpc":"2.0","id":1,"method":"ping"}'
  })
  t.equal(res.status, 502)
  await res.arrayBuffer()
  // The access line is written when the server side of the response closes.
  while (!logs.parsed().some(l => l.msg === 'access')) await once(logs, 'line')
  const warn = logs.parsed().find(l => l.msg === 'upstream request failed')
  t.equal(warn?.reqId, 'trace-42', 'the warning is bound to the request')
  t.equal(warn?.serverId, 'gone')
  const access = logs.parsed().filter(l => l.msg === 'access')
  t.same(access.map(l => [l.reqId, l.status]), [['trace-42', 502]], 'one access line, naming the request')
})

t.test('through the gateway: proxied requests that go well make no per-request logger', async t => {
  const upstream = await startRawUpstream(t, (req, res) => {
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{"jsonrpc":"2.0","id":1,"result":{}}')
    })
  })
  const { options, lines, children } = capture('info')
  const store = await sqliteStore(t)
  const gw = await startGateway(t, { store, logger: options, config: testConfig({ servers: [{ id: 'up', url: `${upstream.origin}/mcp` }] }) })
  const key = await createTestKey(store)
  const before = children()
  for (let i = 0; i < 5; i++) {
    const res = await fetch(`${gw.url}/mcp-connect/up`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json', 'x-request-id': `ok-${i}` },
      body: '{"jsonrpc":"2.0","id":1,"method":"ping"}'
    })
    t.equal(res.status, 200)
    await res.arrayBuffer()
  }
  await gw.app.close()
  t.equal(children() - before, 0, 'no pino child was made for them')
  t.same(lines.filter(l => l.msg === 'access').map(l => l.reqId), ['ok-0', 'ok-1', 'ok-2', 'ok-3', 'ok-4'], 'their access lines still name them')
})
