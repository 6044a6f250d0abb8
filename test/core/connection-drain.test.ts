// ConnectionDrain on a real HTTP server and real keep-alive connections: on close(), idle
// connections go at once, a connection with a response in progress is closed as soon as that
// response is out (not held by keep-alive), and a response that never ends holds close() for the
// grace period at most. And between requests it holds nothing of the last one: an idle keep-alive
// connection does not keep its last response (and the request graph behind it) alive.
import { once } from 'node:events'
import { createServer, type ServerResponse } from 'node:http'
import { connect, type Socket } from 'node:net'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import t, { type Test } from 'tap'
import { ConnectionDrain } from '../../core/connection-drain.ts'

interface Fixture {
  port: number
  drain: ConnectionDrain
  held: ServerResponse[]
  arrived: () => Promise<void>
  /** The latest response, weakly: the test can tell whether anything still holds it. */
  latest: () => WeakRef<ServerResponse> | null
}

async function fixture (t: Test): Promise<Fixture> {
  const held: ServerResponse[] = []
  let latest: WeakRef<ServerResponse> | null = null
  const server = createServer((req, res) => {
    latest = new WeakRef(res)
    req.resume()
    // `/hold` answers when the test says so.
    if (req.url === '/hold') {
      held.push(res)
      server.emit('held')
      return
    }
    res.end('ok')
  })
  server.keepAliveTimeout = 60_000
  const drain = new ConnectionDrain(server)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.closeAllConnections(); server.close() })
  return { port: (server.address() as { port: number }).port, drain, held, arrived: async () => { await once(server, 'held') }, latest: () => latest }
}

/** A raw keep-alive connection; resolves each response's text in order. */
function client (port: number): { socket: Socket, get (path: string): void, closed: Promise<unknown>, data: () => string } {
  const socket = connect(port, '127.0.0.1')
  let text = ''
  socket.on('data', chunk => { text += chunk.toString() })
  return {
    socket,
    get (path) { socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`) },
    closed: once(socket, 'close'),
    data: () => text
  }
}

async function answered (c: { socket: Socket, data: () => string }, n: number): Promise<void> {
  while ((c.data().match(/HTTP\/1\.1 200/g) ?? []).length < n) await once(c.socket, 'data')
}

t.test('idle connections close at once; a busy one closes right after its response', async t => {
  const f = await fixture(t)
  const idle = client(f.port)
  idle.get('/quick')
  await answered(idle, 1)
  const first = client(f.port)
  first.get('/hold')
  await f.arrived()
  const second = client(f.port)
  second.get('/hold')
  await f.arrived()
  const closing = f.drain.close(60_000)
  await idle.closed
  t.pass('the idle keep-alive connection was closed')
  t.equal(f.drain.busy, 2, 'two connections still have a response in progress')
  f.held[0]?.end('one')
  await first.closed
  t.pass('the first connection closed after its response, while the other is still busy')
  t.equal(f.drain.busy, 1)
  t.match(first.data(), /one$/, 'its response was delivered whole')
  f.held[1]?.end('two')
  await closing
  await second.closed
  t.match(second.data(), /two$/)
  t.equal(f.drain.busy, 0)
})

t.test('a response that never ends holds close() for the grace period at most', async t => {
  const f = await fixture(t)
  const stuck = client(f.port)
  stuck.get('/hold')
  await f.arrived()
  const started = performance.now()
  await f.drain.close(200)
  const waited = performance.now() - started
  t.ok(waited >= 150, `close() waited for the grace period (${Math.round(waited)} ms)`)
  await stuck.closed
  t.pass('the connection was cut after the grace period')
})

t.test('an idle keep-alive connection keeps nothing of its last response alive', async t => {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const f = await fixture(t)
  const c = client(f.port)
  c.get('/quick')
  await answered(c, 1)
  const ref = f.latest()
  t.ok(ref !== null, 'the server saw the request')
  // The response's 'close' comes a tick after it finished; then a full GC.
  await new Promise(resolve => setImmediate(resolve))
  gc()
  t.equal(ref?.deref(), undefined, 'the finished response was collected while its connection stays open')
  t.equal(c.socket.destroyed, false, 'the connection is still open (keep-alive)')
  t.equal(f.drain.busy, 0, 'and counts as idle')
  const closing = f.drain.close(60_000)
  await c.closed
  await closing
  t.pass('close() closed the idle connection')
})

t.test('a pipelined request waiting behind the response in progress is answered before the close', async t => {
  const f = await fixture(t)
  const c = client(f.port)
  c.socket.write('GET /hold HTTP/1.1\r\nHost: x\r\n\r\nGET /hold HTTP/1.1\r\nHost: x\r\n\r\n')
  while (f.held.length < 2) await f.arrived()
  const closing = f.drain.close(60_000)
  t.equal(f.drain.busy, 1, 'one response in progress, the other waiting in line')
  f.held[0]?.end('one')
  await answered(c, 1)
  t.equal(c.socket.destroyed, false, 'the connection stays for the waiting response')
  f.held[1]?.end('two')
  await c.closed
  await closing
  t.match(c.data(), /one[\s\S]*two$/, 'both responses were delivered, in order')
})
