// A server's catalog is listed once per admin.catalog.cacheMs and shared: callers within that time
// (one after another or at once) do not reach the upstream again; after it, the next request
// lists again; a config reload (new url or headers) never serves the old listing.
import t from 'tap'
import { ManualClock } from '../../core/clock.ts'
import { ADMIN_TOKEN, startAdmin, testConfig } from '../helpers/admin.ts'
import { startCatalogUpstream } from '../helpers/mcp-catalog-upstream.ts'

t.test('one upstream listing per server per cacheMs', async t => {
  const clock = new ManualClock()
  const upstream = await startCatalogUpstream(t)
  const servers = [{ id: 'github', url: upstream.mcpUrl }]
  const h = await startAdmin(t, { clock, config: testConfig({ servers, admin: { catalog: { cacheMs: 30_000 } } }) })
  const sessions = () => upstream.methods.filter(m => m === 'initialize').length
  const get = async () => {
    const res = await h.request({ method: 'GET', url: '/api/mcp-servers/github/catalog', token: ADMIN_TOKEN })
    t.equal(res.statusCode, 200)
    return res.json().tools.length as number
  }

  t.equal(await get(), 12)
  t.equal(await get(), 12)
  t.equal(sessions(), 1, 'the second request is served from the cache')
  clock.advance(29_999)
  t.same(await Promise.all([get(), get(), get()]), [12, 12, 12])
  t.equal(sessions(), 1, 'still within cacheMs, concurrent requests too')

  clock.advance(1)
  upstream.addTool('new_tool')
  t.same(await Promise.all([get(), get()]), [13, 13], 'past cacheMs the upstream is listed again')
  t.equal(sessions(), 2, 'once, for both concurrent requests')

  h.app.mcpgateAdmin.reload(testConfig({ servers: [{ id: 'github', url: upstream.mcpUrl, headers: { 'x-tenant': 'b' } }] }))
  t.equal(await get(), 13)
  t.equal(sessions(), 3, 'a reloaded server config is listed afresh')
})
