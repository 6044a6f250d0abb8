// The catalog is listed with the server's configured headers (servers[].headers, as the gateway
// sends them upstream): an upstream that requires its credential answers the admin API, and the
// credential never appears in the catalog's answer.
import t from 'tap'
import { ADMIN_TOKEN, startAdmin, testConfig } from '../helpers/admin.ts'
import { startPagedUpstream } from '../helpers/mcp-paged-upstream.ts'

t.test('configured headers reach the upstream on every request', async t => {
  const upstream = await startPagedUpstream(t, {
    tools: 3,
    pageSize: 10,
    gate: headers => headers.authorization === 'Bearer upstream-credential' && headers['x-tenant'] === 'acme' ? null : 401
  })
  const h = await startAdmin(t, {
    config: testConfig({
      servers: [
        { id: 'with', url: upstream.url, headers: { Authorization: 'Bearer upstream-credential', 'X-Tenant': 'acme' } },
        { id: 'without', url: upstream.url }
      ]
    })
  })
  const res = await h.request({ method: 'GET', url: '/api/mcp-servers/with/catalog', token: ADMIN_TOKEN })
  t.equal(res.statusCode, 200)
  t.equal(res.json().tools.length, 3)
  t.ok(upstream.requests.length >= 2, 'initialize, then the lists')
  t.ok(upstream.requests.every(r => r.authorization === 'Bearer upstream-credential'), 'every request carried the credential')
  t.notMatch(res.body, 'upstream-credential')

  const refused = await h.request({ method: 'GET', url: '/api/mcp-servers/without/catalog', token: ADMIN_TOKEN })
  t.equal(refused.statusCode, 502, 'the same upstream without the headers refuses')
  t.equal(refused.json().code, 'MCPGATE_CATALOG_UNAVAILABLE')
  t.equal(refused.json().message, 'The tools, prompts and resources of MCP server "without" could not be listed: it answered HTTP 401')
})
