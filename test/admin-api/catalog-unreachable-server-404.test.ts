// The catalog of a server the caller cannot reach answers exactly like a missing server (404
// MCPGATE_SERVER_NOT_FOUND), and the upstream is never contacted for it; admins, who see every
// server in GET /api/mcp-servers, get any server's catalog.
import t from 'tap'
import { ADMIN_GROUP, startAdmin, testConfig } from '../helpers/admin.ts'
import { startCatalogUpstream } from '../helpers/mcp-catalog-upstream.ts'
import { startOidcIssuer } from '../helpers/oidc.ts'

t.test('unreachable answers as missing', async t => {
  const idp = await startOidcIssuer()
  t.teardown(() => idp.close())
  const upstream = await startCatalogUpstream(t)
  const h = await startAdmin(t, {
    config: testConfig({
      servers: [
        { id: 'open', url: upstream.mcpUrl },
        { id: 'team', url: upstream.mcpUrl, access: { groups: ['team'] } }
      ]
    }, idp)
  })
  const get = async (id: string, token: string) => h.request({ method: 'GET', url: `/api/mcp-servers/${id}/catalog`, token })
  const outsider = await idp.sign({ email: 'out@example.com' })

  const unreachable = await get('team', outsider)
  const missing = await get('nope', outsider)
  t.equal(unreachable.statusCode, 404)
  t.same(unreachable.json(), { statusCode: 404, code: 'MCPGATE_SERVER_NOT_FOUND', error: 'Not Found', message: 'MCP server "team" not found' })
  t.same(missing.json(), { ...unreachable.json(), message: 'MCP server "nope" not found' }, 'the same answer as a server that does not exist')
  t.equal(upstream.methods.length, 0, 'the upstream was never asked')

  t.equal((await get('team', await idp.sign({ email: 'in@example.com', groups: ['team'] }))).statusCode, 200, 'a member of the group reaches it')
  t.equal((await get('team', await idp.sign({ email: 'adm@example.com', groups: [ADMIN_GROUP] }))).statusCode, 200, 'an admin sees every server')
  t.equal((await get('open', outsider)).statusCode, 200, 'and the outsider reaches a server open to everyone')
  t.equal((await h.request({ method: 'GET', url: '/api/mcp-servers/open/catalog' })).statusCode, 401, 'signed in only')
})
