// ConnectionDrain on a real HTTP server and real keep-alive connections: on close(), idle
// connections go at once, a connection with a response in progress is closed as soon as that
// response is out (not held by keep-alive), and a response that never ends holds close() for the
// grace period at most.
import { once } from 'node:events'
import { createServer, type ServerResponse } from 'node:http'
import { connect, type Socket } from 'node:net'
import t, { type Test } from 'tap'
import { ConnectionDrain } from '../../core/connection-drain.ts'

interface Fixture { port: number, drain: ConnectionDrain, held: ServerResponse[], arrived: () => Promise<void> }

async function fixture (t: Test): Promise<Fixture> {
  const held: ServerResponse[] = []
  const server = createServer((req, res) => {
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
  return { port: (server.address() as { port: number }).port, drain, held, arrived: async () => { await once(server, 'held') } }
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
