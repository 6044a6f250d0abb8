// The catalog follows every page's nextCursor to the end of each list, and stops at a bound
// (CATALOG_MAX_PAGES) on a server whose cursor never ends, saying the list is truncated.
import t from 'tap'
import { CATALOG_MAX_PAGES } from '../../admin-api/catalog.ts'
import { ADMIN_TOKEN, startAdmin, testConfig } from '../helpers/admin.ts'
import { startPagedUpstream } from '../helpers/mcp-paged-upstream.ts'

t.test('every page, then a bound', async t => {
  const paged = await startPagedUpstream(t, { tools: 25, pageSize: 10 })
  const endless = await startPagedUpstream(t, { tools: 3, pageSize: 1, endless: true })
  const h = await startAdmin(t, { config: testConfig({ servers: [{ id: 'paged', url: paged.url }, { id: 'endless', url: endless.url }] }) })

  const res = await h.request({ method: 'GET', url: '/api/mcp-servers/paged/catalog', token: ADMIN_TOKEN })
  t.equal(res.statusCode, 200)
  const tools = res.json().tools as Array<{ name: string }>
  t.equal(tools.length, 25, 'all three pages')
  t.equal(tools[24]?.name, 'tool_0024')
  t.same(paged.cursors, [undefined, '10', '20'], 'each nextCursor followed once')
  t.equal(res.json().truncated, false)
  t.same(res.json().prompts, [], 'a server without prompts or resources: empty lists, never asked')

  const cut = await h.request({ method: 'GET', url: '/api/mcp-servers/endless/catalog', token: ADMIN_TOKEN })
  t.equal(cut.statusCode, 200)
  t.equal(endless.cursors.length, CATALOG_MAX_PAGES, `stops after ${CATALOG_MAX_PAGES} pages`)
  t.equal(cut.json().tools.length, CATALOG_MAX_PAGES)
  t.equal(cut.json().truncated, true, 'and says the list is truncated')
})
