// One structured audit event (pino, `audit: true`, an event name) per key create, key delete,
// user create, user change, user delete and refused admin call — with actor, target, request id
// and client IP, and never a secret, a hash or a credential.
import t from 'tap'
import { ADMIN_GROUP, ADMIN_TOKEN, startAdmin, testConfig } from '../helpers/admin.ts'
import { startOidcIssuer } from '../helpers/oidc.ts'

t.test('every change and every refusal is audited once, without secrets', async t => {
  const idp = await startOidcIssuer()
  t.teardown(() => idp.close())
  const h = await startAdmin(t, { config: testConfig({}, idp) })
  const admin = await idp.sign({ email: 'ops@example.com', groups: [ADMIN_GROUP] })
  const user = await idp.sign({ email: 'dev@example.com' })
  const opsId = (await h.request({ method: 'GET', url: '/api/me', token: admin })).json().user.id
  const devId = (await h.request({ method: 'GET', url: '/api/me', token: user })).json().user.id
  const baseline = h.auditEvents().length // the two sign-ins provisioned two users

  const madeUser = await h.request({ method: 'POST', url: '/api/users', token: ADMIN_TOKEN, body: { email: 'svc@example.com' } })
  const svcId = madeUser.json().id
  const key = await h.request({ method: 'POST', url: '/api/api-keys', token: user, body: { name: 'k', mcpServerIds: ['alpha'] } })
  const svcKey = await h.request({ method: 'POST', url: `/api/users/${svcId}/api-keys`, token: admin, body: { name: 's', mcpServerIds: ['*'] } })
  await h.request({ method: 'PATCH', url: `/api/users/${svcId}`, token: admin, body: { disabled: true, groups: ['x'] } })
  await h.request({ method: 'DELETE', url: `/api/api-keys/${key.json().id}`, token: user })
  await h.request({ method: 'DELETE', url: `/api/users/${svcId}`, token: ADMIN_TOKEN })
  await h.request({ method: 'GET', url: '/api/users', token: user })
  await h.request({ method: 'GET', url: '/api/me', headers: { 'x-api-key': svcKey.json().key } })
  // Read-only calls and refused validation are not audit events.
  await h.request({ method: 'GET', url: '/api/api-keys', token: user })
  await h.request({ method: 'POST', url: '/api/api-keys', token: user, body: { name: '' } })

  const events = h.auditEvents().slice(baseline)
  t.same(events.map(e => e.event), [
    'user.created', 'api_key.created', 'api_key.created', 'user.updated', 'api_key.deleted', 'user.deleted', 'admin.forbidden', 'admin.auth_failed'
  ], 'one event per action, in order')
  const [uc, kc, skc, uu, kd, ud, fb, af] = events
  t.match(uc, { actor: { type: 'admin-token' }, target: { userId: svcId, email: 'svc@example.com' } })
  t.match(kc, { actor: { type: 'user', id: devId, email: 'dev@example.com' }, target: { keyId: key.json().id, userId: devId } })
  t.match(skc, { actor: { type: 'user', id: opsId }, target: { keyId: svcKey.json().id, userId: svcId } })
  t.match(uu, { actor: { id: opsId }, target: { userId: svcId, fields: ['disabled', 'groups'] } })
  t.match(kd, { actor: { id: devId }, target: { keyId: key.json().id } })
  t.match(ud, { actor: { type: 'admin-token' }, target: { userId: svcId } })
  t.match(fb, { actor: { id: devId }, target: { reason: 'GET /api/users' } })
  t.match(af, { actor: null, target: { reason: 'API key sent in X-API-Key' } })
  for (const e of events) {
    t.equal(e.audit, true)
    t.match(e.requestId, /^[0-9a-f-]{36}$/, `${e.event}: request id`)
    t.equal(e.requestId, e.reqId, `${e.event}: same id as the request log`)
    t.equal(e.ip, '127.0.0.1', `${e.event}: client IP`)
  }
  const warn = events.filter(e => e.level === 40).map(e => e.event)
  t.same(warn, ['admin.forbidden', 'admin.auth_failed'], 'refusals are warnings')

  const everything = JSON.stringify(h.logs)
  for (const secret of [key.json().key, svcKey.json().key, admin, user, ADMIN_TOKEN]) t.notOk(everything.includes(secret), 'no credential in any log line')
  t.notOk(everything.includes('$argon2'), 'no hash in any log line')
})

t.test('the logger redacts credential headers if anything logs them', async t => {
  const h = await startAdmin(t)
  h.app.log.info({ headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'x-api-key': 'ok1-abc-def-ghi', cookie: 'sid=1' } }, 'headers')
  h.app.log.info({ key: 'ok1-should-not-appear', record: { secretHash: '$argon2id$v=19$nope' } }, 'record')
  const text = JSON.stringify(h.logs.slice(-2))
  t.notOk(text.includes(ADMIN_TOKEN))
  t.notOk(text.includes('ok1-'))
  t.notOk(text.includes('sid=1'))
  t.notOk(text.includes('$argon2'))
  t.equal(h.logs.at(-2)?.headers.authorization, '[redacted]')
})
