// text/event-stream goes through unbuffered: response headers reach the client before any event,
// with `Cache-Control: no-cache, no-transform` and `X-Accel-Buffering: no`; each event arrives
// before the upstream writes the next; no idle timeout cuts a quiet stream (the response-headers
// timeout does not apply to the body); upstream close ends the client response.
import type { ServerResponse } from 'node:http'
import t from 'tap'
import { createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

t.test('SSE unbuffered', async t => {
  let stream: ServerResponse | undefined
  const upstream = await startRawUpstream(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
    res.flushHeaders()
    stream = res
  })
  const store = await sqliteStore(t)
  // A tight response-headers timeout: it must not turn into an idle timeout on the stream.
  const gw = await startGateway(t, { store, config: testConfig({ servers: [{ id: 'up', url: `${upstream.origin}/mcp`, timeouts: { headersMs: 100 } }] }) })
  const { key } = await createTestKey(store)

  const res = await fetch(gw.mcpUrl('up'), { method: 'POST', headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' }, body: '{}' })
  t.equal(res.status, 200, 'headers arrived while the upstream has sent no event yet')
  t.equal(res.headers.get('content-type'), 'text/event-stream')
  t.equal(res.headers.get('cache-control'), 'no-cache, no-transform')
  t.equal(res.headers.get('x-accel-buffering'), 'no')
  t.equal(res.headers.get('content-encoding'), null)

  const reader = res.body!.getReader()
  const decoder = new TextDecoder()
  const next = async (): Promise<string> => {
    const { value, done } = await reader.read()
    return done ? '<end>' : decoder.decode(value)
  }
  for (let i = 1; i <= 3; i++) {
    stream!.write(`id: ${i}\ndata: {"n":${i}}\n\n`)
    t.equal(await next(), `id: ${i}\ndata: {"n":${i}}\n\n`, `event ${i} arrived before the upstream wrote the next`)
  }

  // Idle for 4× the headers timeout: the stream must survive.
  await new Promise(resolve => setTimeout(resolve, 400))
  stream!.write('data: after-idle\n\n')
  t.equal(await next(), 'data: after-idle\n\n', 'still open after idling longer than any timeout')

  stream!.end()
  t.equal(await next(), '<end>', 'upstream close ends the client response')

  // GET streams pass through the legacy endpoint rewriter: headers must still go out at once.
  const get = await fetch(gw.mcpUrl('up'), { headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' } })
  t.equal(get.status, 200, 'GET: headers before any event')
  t.equal(get.headers.get('cache-control'), 'no-cache, no-transform')
  const getReader = get.body!.getReader()
  stream!.write(': keep-alive\n\n')
  t.equal(decoder.decode((await getReader.read()).value), ': keep-alive\n\n', 'GET: a comment passes at once')
  stream!.write('event: message\ndata: x\n\n')
  t.equal(decoder.decode((await getReader.read()).value), 'event: message\ndata: x\n\n', 'GET: the first event passes at once')
  stream!.end()
  t.equal((await getReader.read()).done, true)
})
