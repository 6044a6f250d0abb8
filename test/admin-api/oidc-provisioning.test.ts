// OIDC users are provisioned on first use: role admin when in an admin group; later sign-ins
// refresh groups from the token, and admin rights that came from a group leave with the group.
// An existing user (created by an admin) is linked by verified email, case-insensitively (the
// linking rules: oidc-identity-linking.test.ts).
import t from 'tap'
import { ADMIN_GROUP, ADMIN_TOKEN, startAdmin, testConfig } from '../helpers/admin.ts'
import { startOidcIssuer } from '../helpers/oidc.ts'

t.test('first sign-in creates the user; admin group gives the admin role', async t => {
  const idp = await startOidcIssuer()
  t.teardown(() => idp.close())
  const h = await startAdmin(t, { config: testConfig({}, idp) })
  const me = async (claims: Record<string, unknown>) => h.request({ method: 'GET', url: '/api/me', token: await idp.sign(claims) })

  const dev = await me({ email: 'Dev@Example.com', name: 'Dev', groups: ['devs'] })
  t.equal(dev.statusCode, 200)
  t.match(dev.json(), { authMethod: 'oidc', role: 'user', user: { email: 'dev@example.com', name: 'Dev', role: 'user', groups: ['devs'], disabled: false } })
  const again = await me({ email: 'dev@example.com', name: 'Dev', groups: ['devs'] })
  t.equal(again.json().user.id, dev.json().user.id, 'the same user on the next sign-in')
  t.equal((await h.store.listUsers({ limit: 10 })).items.length, 1, 'no duplicate')

  const boss = await me({ email: 'boss@example.com', groups: [ADMIN_GROUP] })
  t.match(boss.json(), { role: 'admin', user: { role: 'admin', name: 'boss@example.com' } }, 'admin by group; name falls back to the email')

  const created = h.auditEvents('user.created')
  t.equal(created.length, 2, 'one audit event per provisioned user')
  t.match(created[0], { actor: { type: 'user', email: 'dev@example.com' }, target: { email: 'dev@example.com', reason: 'oidc sign-in' } })
})

t.test('later sign-ins refresh groups and group-derived admin rights', async t => {
  const idp = await startOidcIssuer()
  t.teardown(() => idp.close())
  const h = await startAdmin(t, { config: testConfig({}, idp) })
  const me = async (claims: Record<string, unknown>) => (await h.request({ method: 'GET', url: '/api/me', token: await idp.sign(claims) })).json()

  const first = await me({ email: 'ann@example.com', groups: ['devs', ADMIN_GROUP] })
  t.equal(first.role, 'admin')
  const left = await me({ email: 'ann@example.com', groups: ['devs', 'beta-team'] })
  t.equal(left.role, 'user', 'left the admin group: no longer admin')
  t.same(left.user.groups, ['devs', 'beta-team'], 'groups from the token')
  t.equal(h.auditEvents('user.updated').length, 1, 'the change is audited')
  t.same(h.auditEvents('user.updated')[0]?.target.fields.sort(), ['groups', 'role'])

  const same = await me({ email: 'ann@example.com', groups: ['beta-team', 'devs'] })
  t.equal(same.role, 'user')
  t.equal(h.auditEvents('user.updated').length, 1, 'no write when nothing changed (order does not matter)')

  const noClaim = await me({ email: 'ann@example.com' })
  t.same(noClaim.user.groups, ['devs', 'beta-team'], 'a token without the groups claim leaves groups alone')

  // An admin made by an admin (not by group) stays admin across sign-ins.
  const patched = await h.request({ method: 'PATCH', url: `/api/users/${first.user.id}`, token: ADMIN_TOKEN, body: { role: 'admin' } })
  t.equal(patched.statusCode, 200)
  t.equal((await me({ email: 'ann@example.com', groups: ['devs'] })).role, 'admin', 'manual admin kept')
})

t.test('disabled users are refused; the email must be present and not unverified', async t => {
  const idp = await startOidcIssuer()
  t.teardown(() => idp.close())
  const h = await startAdmin(t, { config: testConfig({}, idp) })
  // Created by an admin first, signing in later with different case: the same record.
  const made = await h.request({ method: 'POST', url: '/api/users', token: ADMIN_TOKEN, body: { email: 'carl@example.com', name: 'Carl' } })
  const res = await h.request({ method: 'GET', url: '/api/me', token: await idp.sign({ email: 'CARL@example.com', name: 'Carl from IdP' }) })
  t.equal(res.json().user.id, made.json().id, 'linked by verified email, case-insensitively')

  await h.request({ method: 'PATCH', url: `/api/users/${made.json().id}`, token: ADMIN_TOKEN, body: { disabled: true } })
  const disabled = await h.request({ method: 'GET', url: '/api/me', token: await idp.sign({ email: 'carl@example.com' }) })
  t.equal(disabled.statusCode, 403)
  t.equal(disabled.json().code, 'MCPGATE_USER_DISABLED')

  const noEmail = await h.request({ method: 'GET', url: '/api/me', token: await idp.sign({ sub: 'abc', name: 'No Mail' }) })
  t.equal(noEmail.statusCode, 401)
  t.equal(noEmail.json().code, 'MCPGATE_TOKEN_INVALID')
  const unverified = await h.request({ method: 'GET', url: '/api/me', token: await idp.sign({ email: 'dora@example.com', email_verified: false }) })
  t.equal(unverified.statusCode, 403, 'email_verified: false')
  t.equal(unverified.json().code, 'MCPGATE_EMAIL_NOT_VERIFIED')
  t.equal(await h.store.getUserByEmail('dora@example.com'), null, 'not provisioned')
  const notAnEmail = await h.request({ method: 'GET', url: '/api/me', token: await idp.sign({ email: 'not an email' }) })
  t.equal(notAnEmail.statusCode, 401)
})

t.test('claim names come from config (exact names and dotted paths)', async t => {
  const idp = await startOidcIssuer()
  t.teardown(() => idp.close())
  const base = testConfig({}, idp)
  const config = testConfig({
    admin: { oidc: { ...base.admin.oidc, claims: { email: 'upn', name: 'display', groups: 'realm_access.roles' }, adminGroups: ['platform'] } }
  })
  const h = await startAdmin(t, { config })
  const res = await h.request({
    method: 'GET',
    url: '/api/me',
    token: await idp.sign({ upn: 'kim@example.com', display: 'Kim', realm_access: { roles: ['platform', 'devs'] } })
  })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { role: 'admin', user: { email: 'kim@example.com', name: 'Kim', groups: ['platform', 'devs'] } })
})

t.test('the JWKS is found through the issuer\'s discovery document when jwksUrl is not set', async t => {
  const idp = await startOidcIssuer()
  t.teardown(() => idp.close())
  const base = testConfig({}, idp)
  const { jwksUrl: _unused, ...oidc } = base.admin.oidc as NonNullable<typeof base.admin.oidc>
  const h = await startAdmin(t, { config: testConfig({ admin: { oidc } }) })
  const res = await h.request({ method: 'GET', url: '/api/me', token: await idp.sign({ email: 'disco@example.com' }) })
  t.equal(res.statusCode, 200)
  t.equal(idp.jwksFetches, 1)

  // An issuer nobody answers for: 503 with Retry-After, not 401 (the token may be fine).
  const dead = await startAdmin(t, { config: testConfig({ admin: { oidc: { ...oidc, issuer: 'http://127.0.0.1:9/' } } }) })
  const down = await dead.request({ method: 'GET', url: '/api/me', token: await idp.sign({ email: 'disco@example.com' }, { issuer: 'http://127.0.0.1:9/' }) })
  t.equal(down.statusCode, 503)
  t.equal(down.json().code, 'MCPGATE_IDP_UNAVAILABLE')
  t.equal(down.headers['retry-after'], '5')
})
