// Every rule on user input (POST and PATCH /api/users), each with a failing and a passing case:
// emails are validated, stored and compared lowercase; role, groups, name and disabled are typed;
// unknown fields and empty patches are refused with a 400 that names the field.
import t, { type Test } from 'tap'
import { ADMIN_TOKEN, startAdmin, type AdminHarness } from '../helpers/admin.ts'

async function fails (t: Test, h: AdminHarness, method: 'POST' | 'PATCH', url: string, body: unknown, field: RegExp, label: string) {
  const res = await h.request({ method, url, token: ADMIN_TOKEN, body })
  t.equal(res.statusCode, 400, `${label}: 400`)
  t.equal(res.json().code, 'MCPGATE_VALIDATION_FAILED', `${label}: code`)
  t.match(res.json().message, field, `${label}: names the field`)
}

async function create (h: AdminHarness, body: unknown) {
  return h.request({ method: 'POST', url: '/api/users', token: ADMIN_TOKEN, body })
}

t.test('email: required, an address, stored lowercase, unique regardless of case', async t => {
  const h = await startAdmin(t)
  await fails(t, h, 'POST', '/api/users', { name: 'x' }, /^email: is required/, 'missing')
  for (const bad of ['not-an-email', 'a@b', 'two@@example.com', 'sp ace@example.com', `${'x'.repeat(250)}@example.com`]) {
    await fails(t, h, 'POST', '/api/users', { email: bad }, /^email:/, JSON.stringify(bad.slice(0, 30)))
  }
  const ok = await create(h, { email: '  Mixed.Case@Example.COM ' })
  t.equal(ok.statusCode, 201)
  t.equal(ok.json().email, 'mixed.case@example.com', 'stored trimmed and lowercase')
  t.equal(ok.json().name, 'mixed.case@example.com', 'name defaults to the email')
  const dup = await create(h, { email: 'MIXED.case@example.com' })
  t.equal(dup.statusCode, 409)
  t.equal(dup.json().code, 'MCPGATE_EMAIL_TAKEN')
  t.equal((await h.service.getUserByEmail('MIXED.CASE@EXAMPLE.COM')).id, ok.json().id, 'looked up case-insensitively')
})

t.test('role, groups, name and disabled: typed and bounded', async t => {
  const h = await startAdmin(t)
  await fails(t, h, 'POST', '/api/users', { email: 'a@example.com', role: 'root' }, /^role:/, 'unknown role')
  await fails(t, h, 'POST', '/api/users', { email: 'a@example.com', groups: 'devs' }, /^groups:/, 'groups not a list')
  await fails(t, h, 'POST', '/api/users', { email: 'a@example.com', groups: [''] }, /^groups\[0\]:/, 'empty group name')
  await fails(t, h, 'POST', '/api/users', { email: 'a@example.com', name: '' }, /^name:/, 'empty name')
  await fails(t, h, 'POST', '/api/users', { email: 'a@example.com', name: 'n'.repeat(201) }, /^name:/, 'name too long')
  await fails(t, h, 'POST', '/api/users', { email: 'a@example.com', disabled: 'yes' }, /^disabled:/, 'disabled not boolean')
  await fails(t, h, 'POST', '/api/users', { email: 'a@example.com', id: 'chosen' }, /^id: unknown field$/, 'id is not settable over REST')
  const res = await create(h, { email: 'a@example.com', name: ' Ann ', role: 'admin', groups: ['devs', 'devs', 'ops'], disabled: true })
  t.equal(res.statusCode, 201)
  t.match(res.json(), { name: 'Ann', role: 'admin', groups: ['devs', 'ops'], disabled: true }, 'trimmed and deduplicated')
  t.match(res.json().createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'RFC 3339 time')
})

t.test('PATCH: at least one known field, each validated', async t => {
  const h = await startAdmin(t)
  const user = (await create(h, { email: 'p@example.com', name: 'P' })).json()
  const url = `/api/users/${user.id}`
  await fails(t, h, 'PATCH', url, {}, /^\(body\): must contain at least one field/, 'empty patch')
  await fails(t, h, 'PATCH', url, { email: 'new@example.com' }, /^email: unknown field$/, 'email is not patchable')
  await fails(t, h, 'PATCH', url, { role: 'superuser' }, /^role:/, 'bad role')
  await fails(t, h, 'PATCH', url, { disabled: 1 }, /^disabled:/, 'disabled as a number')
  await fails(t, h, 'PATCH', url, { name: '   ' }, /^name: must be 1-200 characters/, 'blank name')
  t.same(await h.service.getUser(user.id), user, 'failed patches changed nothing')
  const res = await h.request({ method: 'PATCH', url, token: ADMIN_TOKEN, body: { name: 'Pat', role: 'admin', groups: ['beta-team'], disabled: true } })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { id: user.id, email: 'p@example.com', name: 'Pat', role: 'admin', groups: ['beta-team'], disabled: true })
})
