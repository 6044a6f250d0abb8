// The access line is built by hand (gateway/access-log.ts), not by pino: it must still be the line
// pino would write — same leading fields and values, `msg` last, valid JSON whatever the client
// put in its path — and, like a pino info line, follow the logger's level as it changes.
import { connect } from 'node:net'
import t from 'tap'
import { startGateway, testConfig, type TestGateway } from '../helpers/gateway.ts'
import { sqliteStore } from '../helpers/stores.ts'

type Line = Record<string, unknown>

const parsed = (gw: TestGateway): Line[] => gw.logs.lines.map(l => JSON.parse(l) as Line)
const access = (gw: TestGateway): Line[] => parsed(gw).filter(l => l.msg === 'access')

/** One raw HTTP/1.1 request, so the path reaches the gateway exactly as written. */
async function rawGet (gw: TestGateway, path: string): Promise<string> {
  const { port } = new URL(gw.url)
  const socket = connect(Number(port), '127.0.0.1')
  socket.end(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Request-Id: raw-1\r\n\r\n`)
  const chunks: Buffer[] = []
  for await (const chunk of socket) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('latin1')
}

t.test('the access line has the shape of a pino info line', async t => {
  const gw = await startGateway(t, { store: await sqliteStore(t) })
  const res = await fetch(`${gw.url}/healthz`, { headers: { 'x-request-id': 'shape-1' } })
  await res.arrayBuffer()
  // A third request's answer comes after the close events of the first (see the access-log tests).
  await (await fetch(`${gw.url}/healthz`)).arrayBuffer()
  gw.app.log.info({ probe: true }, 'from pino')
  const [line] = access(gw)
  const pinoLine = parsed(gw).find(l => l.msg === 'from pino')
  if (line === undefined || pinoLine === undefined) throw new Error('missing lines')
  t.same(Object.keys(line).slice(0, 4), ['level', 'time', 'pid', 'hostname'], 'pino\'s leading fields, in its order')
  t.same(Object.keys(line).slice(0, 4), Object.keys(pinoLine).slice(0, 4))
  for (const field of ['level', 'pid', 'hostname']) t.equal(line[field], pinoLine[field], `${field} as pino writes it`)
  t.type(line.time, 'number')
  t.ok(Math.abs((line.time as number) - (pinoLine.time as number)) < 60_000, 'time in epoch milliseconds, like pino\'s')
  t.equal(Object.keys(line).at(-1), 'msg', 'msg last, like pino')
  t.match(line, { reqId: 'shape-1', method: 'GET', path: '/healthz', status: 200, ip: '127.0.0.1' })
  t.type(line.durationMs, 'number')
  t.type(line.bytesIn, 'number')
})

t.test('a path with quotes and backslashes still makes valid JSON', async t => {
  const gw = await startGateway(t, { store: await sqliteStore(t) })
  // Node's HTTP parser lets these through (not control characters or non-ASCII bytes).
  const head = await rawGet(gw, '/x"y\\z/{a}|<b>?q="1"')
  t.match(head, /^HTTP\/1\.1 404 /, 'answered (no such route)')
  // The server closed the connection after the answer: its close event has run before the line is read.
  await (await fetch(`${gw.url}/healthz`)).arrayBuffer()
  const line = access(gw).find(l => l.reqId === 'raw-1')
  t.ok(line !== undefined, 'the line parses')
  t.equal(line?.path, '/x"y\\z/{a}|<b>', 'the path as received, query dropped')
  t.equal(line?.code, 'MCPGATE_ROUTE_NOT_FOUND')
})

t.test('the access line follows the logger\'s level', async t => {
  const gw = await startGateway(t, { store: await sqliteStore(t), config: testConfig({ log: { level: 'info' } }) })
  await (await fetch(`${gw.url}/healthz`, { headers: { 'x-request-id': 'before' } })).arrayBuffer()
  await (await fetch(`${gw.url}/healthz`)).arrayBuffer()
  gw.app.log.level = 'warn'
  await (await fetch(`${gw.url}/healthz`, { headers: { 'x-request-id': 'while-warn' } })).arrayBuffer()
  await (await fetch(`${gw.url}/healthz`)).arrayBuffer()
  gw.app.log.level = 'debug'
  await (await fetch(`${gw.url}/healthz`, { headers: { 'x-request-id': 'after' } })).arrayBuffer()
  await (await fetch(`${gw.url}/healthz`)).arrayBuffer()
  const ids = access(gw).map(l => l.reqId)
  t.ok(ids.includes('before'), 'written at info')
  t.notOk(ids.includes('while-warn'), 'not at warn')
  t.ok(ids.includes('after'), 'written again at debug')
})
