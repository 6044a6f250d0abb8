// A user whose admin role comes from an IdP group in admin.oidc.adminGroups says so
// (roleFromGroups) in every user view, and cannot be demoted over the API: the next sign-in would
// give the role back (409 MCPGATE_ROLE_FROM_IDP_GROUP, naming the group). An admin made by PATCH
// has roleFromGroups false and can be demoted.
import t from 'tap'
import { ADMIN_GROUP, ADMIN_TOKEN, startAdmin, testConfig } from '../helpers/admin.ts'
import { startOidcIssuer } from '../helpers/oidc.ts'

t.test('roleFromGroups is shown, and a demotion the next sign-in would undo is refused', async t => {
  const idp = await startOidcIssuer()
  t.teardown(() => idp.close())
  const h = await startAdmin(t, { config: testConfig({}, idp) })
  const signIn = async (claims: Record<string, unknown>) => (await h.request({ method: 'GET', url: '/api/me', token: await idp.sign(claims) })).json()
  const admin = (method: 'GET' | 'PATCH', url: string, body?: unknown) => h.request({ method, url, token: ADMIN_TOKEN, ...(body === undefined ? {} : { body }) })

  const boss = await signIn({ email: 'boss@example.com', groups: ['devs', ADMIN_GROUP] })
  t.equal(boss.user.roleFromGroups, true, '/api/me: admin by group')
  const dev = await signIn({ email: 'dev@example.com', groups: ['devs'] })
  t.equal(dev.user.roleFromGroups, false, 'a user is not')

  t.equal((await admin('GET', `/api/users/${boss.user.id}`)).json().roleFromGroups, true, 'GET /api/users/:id')
  const listed = (await admin('GET', '/api/users')).json().items
  t.same(listed.map((u: { email: string, roleFromGroups: boolean }) => [u.email, u.roleFromGroups]), [['boss@example.com', true], ['dev@example.com', false]], 'GET /api/users')

  // Another admin exists, so this is not the last-admin guard speaking.
  t.equal((await admin('PATCH', `/api/users/${dev.user.id}`, { role: 'admin' })).json().roleFromGroups, false, 'an admin made by PATCH: not from groups')
  const refused = await admin('PATCH', `/api/users/${boss.user.id}`, { role: 'user' })
  t.equal(refused.statusCode, 409)
  t.equal(refused.json().code, 'MCPGATE_ROLE_FROM_IDP_GROUP')
  t.match(refused.json().message, new RegExp(`boss@example\\.com.*"${ADMIN_GROUP}"`), 'the message names the user and the group')
  t.match(refused.json().message, /next sign-in/, 'and says why')
  t.equal((await h.store.getUser(boss.user.id))?.role, 'admin', 'nothing was written')
  t.equal((await admin('PATCH', `/api/users/${boss.user.id}`, { name: 'The Boss' })).statusCode, 200, 'other changes go through')

  t.equal((await admin('PATCH', `/api/users/${dev.user.id}`, { role: 'user' })).statusCode, 200, 'the PATCH-made admin can be demoted')

  const left = await signIn({ email: 'boss@example.com', groups: ['devs'] })
  t.match(left.user, { role: 'user', roleFromGroups: false }, 'out of the group at the IdP: the role went with it')
})

t.test('without OIDC no role comes from groups', async t => {
  const h = await startAdmin(t)
  const res = await h.request({ method: 'POST', url: '/api/users', token: ADMIN_TOKEN, body: { email: 'a@example.com', role: 'admin', groups: [ADMIN_GROUP] } })
  t.equal(res.json().roleFromGroups, false)
})
