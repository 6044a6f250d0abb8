// GET /api/mcp-servers/:id/catalog lists what an upstream offers as a real MCP client would: every
// tool, prompt, resource and resource template of a server-everything-like SDK server, over
// Streamable HTTP and over the legacy HTTP+SSE transport (a url ending in /sse). The answer never
// carries the upstream's address.
import t from 'tap'
import { ADMIN_TOKEN, startAdmin, testConfig } from '../helpers/admin.ts'
import { PROMPTS, RESOURCES, startCatalogUpstream, TEMPLATES, TOOLS } from '../helpers/mcp-catalog-upstream.ts'

t.test('both transports list every kind, with names and descriptions', async t => {
  const upstream = await startCatalogUpstream(t)
  const h = await startAdmin(t, {
    config: testConfig({
      servers: [
        { id: 'catalog', url: upstream.mcpUrl },
        { id: 'legacy', url: upstream.sseUrl }
      ]
    })
  })
  for (const id of ['catalog', 'legacy']) {
    const res = await h.request({ method: 'GET', url: `/api/mcp-servers/${id}/catalog`, token: ADMIN_TOKEN })
    t.equal(res.statusCode, 200, `${id}: 200`)
    const body = res.json()
    t.same(body.tools.map((x: { name: string }) => x.name), TOOLS, `${id}: every tool`)
    t.same(body.tools[0], { name: 'search_issues', description: 'the search_issues tool' }, `${id}: a tool with its description`)
    t.same(body.prompts.map((x: { name: string }) => x.name), PROMPTS, `${id}: every prompt`)
    t.same(body.resources.map((x: { uri: string }) => x.uri), RESOURCES, `${id}: every resource`)
    t.same(body.resources[0], { uri: 'repo://docs/readme', name: 'repo://docs/readme' }, `${id}: a resource with its name`)
    t.same(body.resourceTemplates.map((x: { uriTemplate: string }) => x.uriTemplate), TEMPLATES, `${id}: every resource template`)
    t.equal(body.truncated, false)
    t.notMatch(res.body, upstream.origin.replace('http://', ''), `${id}: no upstream address in the answer`)
    t.equal(res.headers['cache-control'], 'no-store')
  }
  t.equal(upstream.methods.filter(m => m === 'initialize').length, 2, 'one MCP session per server')
  t.ok(upstream.methods.includes('resources/templates/list'))
})
