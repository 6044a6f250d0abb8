// GET /api/mcp-servers lists what the caller can scope a key to: a user sees the servers they
// can reach now (by rule, group or role); an admin sees every server with its access rule and a
// reachable flag. Upstream URLs and injected headers (credentials) never appear.
import t from 'tap'
import { ADMIN_GROUP, ADMIN_TOKEN, startAdmin, testConfig } from '../helpers/admin.ts'
import { startOidcIssuer } from '../helpers/oidc.ts'

t.test('servers by caller, never the upstream URL or headers', async t => {
  const idp = await startOidcIssuer()
  t.teardown(() => idp.close())
  const servers = [
    { id: 'alpha', name: 'Alpha', description: 'for all', url: 'http://10.0.0.1:9000/mcp', access: 'everyone' },
    { id: 'beta', url: 'http://10.0.0.2:9000/mcp', access: { groups: ['beta-team'] }, headers: { Authorization: 'Bearer upstream-secret-beta' } },
    { id: 'gamma', url: 'http://10.0.0.3:9000/mcp', access: { roles: ['admin'] } },
    { id: 'delta', url: 'http://10.0.0.4:9000/mcp', access: { users: ['Vip@Example.com'] } }
  ]
  const h = await startAdmin(t, { config: testConfig({ servers }, idp) })
  const list = async (token: string) => {
    const res = await h.request({ method: 'GET', url: '/api/mcp-servers', token })
    t.equal(res.statusCode, 200)
    return res.json().items as Array<Record<string, unknown>>
  }

  const plain = await list(await idp.sign({ email: 'joe@example.com' }))
  t.same(plain, [{ id: 'alpha', name: 'Alpha', description: 'for all', connectPath: '/mcp-connect/alpha', reachable: true }], 'everyone-servers only, no access rule')
  t.same((await list(await idp.sign({ email: 'bea@example.com', groups: ['beta-team'] }))).map(s => s.id), ['alpha', 'beta'], 'by group')
  t.same((await list(await idp.sign({ email: 'vip@example.com' }))).map(s => s.id), ['alpha', 'delta'], 'by email, case-insensitively')

  const admin = await list(await idp.sign({ email: 'adm@example.com', groups: [ADMIN_GROUP] }))
  t.same(admin.map(s => [s.id, s.reachable]), [['alpha', true], ['beta', false], ['gamma', true], ['delta', false]], 'admins see every server and whether they can reach it')
  t.same(admin[1]?.access, { users: [], groups: ['beta-team'], roles: [] }, 'with its access rule')
  t.same((await list(ADMIN_TOKEN)).map(s => s.id), ['alpha', 'beta', 'gamma', 'delta'], 'the bootstrap token sees all')

  const bodies = h.responses.map(r => r.body).join('\n')
  t.notMatch(bodies, 'upstream-secret-beta', 'injected upstream credentials never listed')
  t.notMatch(bodies, '10.0.0.', 'upstream URLs never listed')
})
