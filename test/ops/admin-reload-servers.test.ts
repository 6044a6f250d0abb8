// app.mcpgateAdmin.reload(config) on the admin API (what SIGHUP calls): the server list and access
// rules used by /api/mcp-servers and by key creation change at once; nothing else restarts.
import t from 'tap'
import { ADMIN_TOKEN, startAdmin, testConfig } from '../helpers/admin.ts'

t.test('admin reload', async t => {
  const admin = await startAdmin(t, {
    config: testConfig({ servers: [{ id: 'alpha', url: 'http://127.0.0.1:9/mcp' }, { id: 'beta', url: 'http://127.0.0.1:9/beta' }] })
  })
  const user = (await admin.request({ method: 'POST', url: '/api/users', token: ADMIN_TOKEN, body: { email: 'reload@example.com' } })).json()
  const createKey = async (mcpServerIds: string[]) => admin.request({
    method: 'POST', url: `/api/users/${user.id as string}/api-keys`, token: ADMIN_TOKEN, body: { name: 'k', mcpServerIds }
  })
  const listed = async () => (await admin.request({ method: 'GET', url: '/api/mcp-servers', token: ADMIN_TOKEN })).json().items
    .map((s: { id: string, access: unknown }) => [s.id, s.access])

  t.same(await listed(), [['alpha', 'everyone'], ['beta', 'everyone']])
  t.equal((await createKey(['delta'])).statusCode, 400, 'delta does not exist yet')
  t.equal((await createKey(['alpha'])).statusCode, 201)

  admin.app.mcpgateAdmin.reload(testConfig({
    servers: [
      { id: 'alpha', url: 'http://127.0.0.1:9/mcp', access: { roles: ['admin'] } },
      { id: 'delta', url: 'http://127.0.0.1:9/delta' }
    ]
  }))

  t.same(await listed(), [['alpha', { users: [], groups: [], roles: ['admin'] }], ['delta', 'everyone']], 'beta gone, delta added, alpha re-ruled')
  const delta = await createKey(['delta'])
  t.equal(delta.statusCode, 201, 'a key for the new server')
  const alpha = await createKey(['alpha'])
  t.equal(alpha.statusCode, 400, 'the user lost access to alpha')
  t.equal(alpha.json().code, 'MCPGATE_MCP_SERVER_NOT_FOUND')
  t.equal((await createKey(['beta'])).statusCode, 400, 'beta is gone')
})
