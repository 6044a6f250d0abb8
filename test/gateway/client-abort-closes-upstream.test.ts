// A client that goes away aborts its upstream request — mid-stream or before the upstream has
// answered — and the upstream sees it closed within 1 s; 200 aborts leave no socket behind.
import t from 'tap'
import { createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { startRawUpstream, type RecordedRequest } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

function closedWithin (rec: RecordedRequest, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    rec.closed.then(() => true),
    new Promise<boolean>(resolve => { timer = setTimeout(() => resolve(false), ms) })
  ]).finally(() => clearTimeout(timer))
}

async function poll (fn: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (!fn()) {
    if (Date.now() > deadline) return false
    await new Promise(resolve => setTimeout(resolve, 10))
  }
  return true
}

t.test('client aborts', async t => {
  const upstream = await startRawUpstream(t, (req, res) => {
    if (req.url?.startsWith('/silent') === true) return // never answers: headers pending
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.write('data: first\n\n') // then holds the stream open forever
  })
  const store = await sqliteStore(t)
  const gw = await startGateway(t, {
    store,
    config: testConfig({ servers: [{ id: 'stream', url: `${upstream.origin}/stream` }, { id: 'silent', url: `${upstream.origin}/silent` }] })
  })
  const { key } = await createTestKey(store)
  const headers = { authorization: `Bearer ${key}` }

  await t.test('mid-stream', async t => {
    const controller = new AbortController()
    const res = await fetch(gw.mcpUrl('stream') + '?case=mid', { method: 'POST', headers, body: '{}', signal: controller.signal })
    const reader = res.body!.getReader()
    t.equal(new TextDecoder().decode((await reader.read()).value), 'data: first\n\n')
    const rec = upstream.requests.find(r => r.url === '/stream?case=mid')!
    controller.abort()
    t.ok(await closedWithin(rec, 1000), 'upstream saw its request closed within 1 s')
  })

  await t.test('before the upstream answered', async t => {
    const controller = new AbortController()
    const pending = fetch(gw.mcpUrl('silent') + '?case=early', { headers, signal: controller.signal }).catch(err => err as Error)
    const rec = await upstream.waitForRequest(r => r.url === '/silent?case=early')
    controller.abort()
    t.type(await pending, Error, 'the client side was aborted')
    t.ok(await closedWithin(rec, 1000), 'upstream saw its request closed within 1 s')
  })

  await t.test('200 aborts leak no socket', async t => {
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(Array.from({ length: 20 }, async (_, i) => {
        const controller = new AbortController()
        const res = await fetch(`${gw.mcpUrl('stream')}?case=many-${batch}-${i}`, { method: 'POST', headers, body: '{}', signal: controller.signal })
        await res.body!.getReader().read()
        controller.abort()
      }))
    }
    const many = upstream.requests.filter(r => r.url.includes('case=many-'))
    t.equal(many.length, 200)
    t.ok(await poll(() => many.every(r => r.closedAt !== null), 5000), 'every upstream request was closed')
    t.ok(await poll(() => upstream.openSockets() === 0, 5000), `no upstream socket left open (now ${upstream.openSockets()})`)
  })
})
