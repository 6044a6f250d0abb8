// app.mcpgate.reload(config): servers added, removed and re-ruled take effect on the next request,
// and a stream already open through the gateway keeps flowing.
import type { ServerResponse } from 'node:http'
import t from 'tap'
import { createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

t.test('reload', async t => {
  let open: ServerResponse | undefined
  const upstream = await startRawUpstream(t, (req, res) => {
    if (req.url === '/stream') {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write('data: one\n\n')
      open = res
      return
    }
    res.end('{}')
  })
  const store = await sqliteStore(t)
  const url = `${upstream.origin}/mcp`
  const gw = await startGateway(t, {
    store,
    config: testConfig({ servers: [{ id: 'old', url }, { id: 'ruled', url }, { id: 'stream', url: `${upstream.origin}/stream` }] })
  })
  const { key } = await createTestKey(store)
  const send = async (id: string) => (await fetch(gw.mcpUrl(id), { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: '{}' })).status

  const res = await fetch(gw.mcpUrl('stream'), { headers: { authorization: `Bearer ${key}` } })
  const reader = res.body!.getReader()
  const decoder = new TextDecoder()
  t.equal(decoder.decode((await reader.read()).value), 'data: one\n\n')
  t.equal(await send('old'), 200)
  t.equal(await send('new'), 404)

  gw.app.mcpgate.reload(testConfig({
    servers: [
      { id: 'new', url },
      { id: 'ruled', url, access: { roles: ['admin'] } },
      { id: 'stream', url: `${upstream.origin}/stream`, timeouts: { connectMs: 1234 } }
    ]
  }))
  t.equal(await send('new'), 200, 'added server reachable')
  t.equal(await send('old'), 404, 'removed server gone')
  t.equal(await send('ruled'), 404, 'new access rule applied (a server the owner may not reach is not found)')

  open!.write('data: two\n\n')
  t.equal(decoder.decode((await reader.read()).value), 'data: two\n\n', 'the open stream kept flowing across the reload')
  open!.end()
  t.equal((await reader.read()).done, true)
})
