// Issue 22, item 4: OIDC sign-in matched users by email alone and took a token without
// `email_verified` as verified, so a JWT carrying the email of an admin created with the admin
// token signed in as that admin. Now a user is matched by the token's (issuer, sub) once linked;
// an identity not linked yet links to (or creates) the account of its email only when the IdP
// says the email is verified (`admin.oidc.claims.emailVerified`, default `email_verified`); else
// 403 MCPGATE_EMAIL_NOT_VERIFIED. An account holds one identity per issuer: another subject with
// the same verified email gets 403 MCPGATE_IDENTITY_CONFLICT.
import t from 'tap'
import { ADMIN_TOKEN, startAdmin, testConfig } from '../helpers/admin.ts'
import { startOidcIssuer } from '../helpers/oidc.ts'
import { sqliteStore } from '../helpers/stores.ts'

t.test('an unverified email never signs in as the existing user who owns it', async t => {
  const idp = await startOidcIssuer()
  t.teardown(() => idp.close())
  const h = await startAdmin(t, { config: testConfig({}, idp) })
  const root = await h.request({ method: 'POST', url: '/api/users', token: ADMIN_TOKEN, body: { email: 'root@example.com', role: 'admin' } })
  t.equal(root.statusCode, 201)

  for (const [label, verified] of [['claim absent', undefined], ['false', false], ['"false"', 'false'], ['1', 1]] as const) {
    const token = await idp.sign({ sub: 'attacker', email: 'root@example.com', email_verified: verified })
    const res = await h.request({ method: 'GET', url: '/api/me', token })
    t.equal(res.statusCode, 403, `email_verified ${label}: 403`)
    t.equal(res.json().code, 'MCPGATE_EMAIL_NOT_VERIFIED')
    const keys = await h.request({ method: 'GET', url: '/api/admin-api-keys', token })
    t.equal(keys.statusCode, 403, `email_verified ${label}: no admin route either`)
  }
  t.equal(await h.store.getUserByIdentity({ issuer: idp.issuer, subject: 'attacker' }), null, 'nothing was linked')
  t.notOk((await h.store.getUser(root.json().id))?.identity, 'the admin account is still unlinked')
  t.equal(h.auditEvents('admin.auth_failed').filter(e => /not verified/.test(e.target.reason)).length, 8, 'each refusal audited')
})

t.test('a verified email links once; from then on (issuer, sub) decides, not the email', async t => {
  const idp = await startOidcIssuer()
  t.teardown(() => idp.close())
  const h = await startAdmin(t, { config: testConfig({}, idp) })
  const made = (await h.request({ method: 'POST', url: '/api/users', token: ADMIN_TOKEN, body: { email: 'carl@example.com', role: 'admin' } })).json()

  const first = await h.request({ method: 'GET', url: '/api/me', token: await idp.sign({ sub: 'carl-1', email: 'Carl@Example.com', email_verified: true }) })
  t.equal(first.statusCode, 200)
  t.match(first.json(), { role: 'admin', user: { id: made.id } }, 'linked to the account of the verified email')
  t.same((await h.store.getUser(made.id))?.identity, { issuer: idp.issuer, subject: 'carl-1' })
  t.match(h.auditEvents('user.updated').at(-1), { target: { userId: made.id, fields: ['identity'], reason: 'oidc sign-in' } }, 'the link is audited')

  const noEmail = await h.request({ method: 'GET', url: '/api/me', token: await idp.sign({ sub: 'carl-1', email: undefined, email_verified: undefined }) })
  t.equal(noEmail.json().user?.id, made.id, 'linked: no email claim needed')
  const otherEmail = await h.request({ method: 'GET', url: '/api/me', token: await idp.sign({ sub: 'carl-1', email: 'carl.new@example.com', email_verified: undefined }) })
  t.equal(otherEmail.json().user?.id, made.id, 'linked: a changed email claim still finds the same user')

  const rival = await h.request({ method: 'GET', url: '/api/me', token: await idp.sign({ sub: 'carl-2', email: 'carl@example.com', email_verified: true }) })
  t.equal(rival.statusCode, 403, 'another subject with the same verified email')
  t.equal(rival.json().code, 'MCPGATE_IDENTITY_CONFLICT')
  t.same((await h.store.getUser(made.id))?.identity, { issuer: idp.issuer, subject: 'carl-1' }, 'the link is unchanged')
})

t.test('a new user is provisioned only from a verified email, linked to its (issuer, sub)', async t => {
  const idp = await startOidcIssuer()
  t.teardown(() => idp.close())
  const h = await startAdmin(t, { config: testConfig({}, idp) })
  const unverified = await h.request({ method: 'GET', url: '/api/me', token: await idp.sign({ sub: 'dora', email: 'dora@example.com', email_verified: undefined }) })
  t.equal(unverified.statusCode, 403)
  t.equal(unverified.json().code, 'MCPGATE_EMAIL_NOT_VERIFIED')
  t.equal(await h.store.getUserByEmail('dora@example.com'), null, 'an unverified email provisions nobody')

  const created = await h.request({ method: 'GET', url: '/api/me', token: await idp.sign({ sub: 'dora', email: 'dora@example.com', email_verified: true }) })
  t.equal(created.statusCode, 200)
  t.same((await h.store.getUser(created.json().user.id))?.identity, { issuer: idp.issuer, subject: 'dora' }, 'created with its link')
  t.equal(h.auditEvents('user.created').length, 1)
})

t.test('the verified-email claim name comes from config (admin.oidc.claims.emailVerified)', async t => {
  const idp = await startOidcIssuer()
  t.teardown(() => idp.close())
  const base = testConfig({}, idp)
  const oidc = base.admin.oidc as NonNullable<typeof base.admin.oidc>
  const h = await startAdmin(t, { config: testConfig({ admin: { oidc: { ...oidc, claims: { emailVerified: 'xms_edov' } } } }) })
  const ignored = await h.request({ method: 'GET', url: '/api/me', token: await idp.sign({ sub: 'e', email: 'erin@example.com', email_verified: true }) })
  t.equal(ignored.statusCode, 403, 'email_verified is not the configured claim')
  const res = await h.request({ method: 'GET', url: '/api/me', token: await idp.sign({ sub: 'e', email: 'erin@example.com', email_verified: undefined, xms_edov: true }) })
  t.equal(res.statusCode, 200)
})

t.test('racing sign-ins: one identity makes one user; two subjects cannot both take one account', async t => {
  const idp = await startOidcIssuer()
  t.teardown(() => idp.close())
  const h = await startAdmin(t, { config: testConfig({}, idp) })
  const same = await idp.sign({ sub: 'fay', email: 'fay@example.com', email_verified: true })
  const both = await Promise.all([1, 2, 3].map(() => h.request({ method: 'GET', url: '/api/me', token: same })))
  t.same(both.map(r => r.statusCode), [200, 200, 200])
  t.equal(new Set(both.map(r => r.json().user.id)).size, 1, 'one user')

  await h.request({ method: 'POST', url: '/api/users', token: ADMIN_TOKEN, body: { email: 'gus@example.com' } })
  const rivals = await Promise.all(['gus-a', 'gus-b', 'gus-c'].map(async sub =>
    h.request({ method: 'GET', url: '/api/me', token: await idp.sign({ sub, email: 'gus@example.com', email_verified: true }) })))
  t.same(rivals.map(r => r.statusCode).sort(), [200, 403, 403], 'exactly one subject links')
  t.same(rivals.filter(r => r.statusCode === 403).map(r => r.json().code), ['MCPGATE_IDENTITY_CONFLICT', 'MCPGATE_IDENTITY_CONFLICT'])
})

t.test('after a change of issuer, a verified email moves the account to the new issuer\'s subject', async t => {
  const oldIdp = await startOidcIssuer()
  t.teardown(() => oldIdp.close())
  const newIdp = await startOidcIssuer()
  t.teardown(() => newIdp.close())
  const store = await sqliteStore(t)
  const before = await startAdmin(t, { store, config: testConfig({}, oldIdp) })
  const id = (await before.request({ method: 'GET', url: '/api/me', token: await oldIdp.sign({ sub: 'old-hal', email: 'hal@example.com', email_verified: true }) })).json().user.id
  const after = await startAdmin(t, { store, config: testConfig({}, newIdp) })
  const unverified = await after.request({ method: 'GET', url: '/api/me', token: await newIdp.sign({ sub: 'new-hal', email: 'hal@example.com', email_verified: undefined }) })
  t.equal(unverified.statusCode, 403, 'not without a verified email')
  const moved = await after.request({ method: 'GET', url: '/api/me', token: await newIdp.sign({ sub: 'new-hal', email: 'hal@example.com', email_verified: true }) })
  t.equal(moved.json().user?.id, id, 'the same account')
  t.same((await store.getUser(id))?.identity, { issuer: newIdp.issuer, subject: 'new-hal' })
  t.equal(await store.getUserByIdentity({ issuer: oldIdp.issuer, subject: 'old-hal' }), null, 'the old link is gone')
})
