// The last enabled admin cannot be disabled, demoted or deleted over the admin API (409
// MCPGATE_LAST_ADMIN, the message saying why and that the bootstrap admin token still works);
// disabled admins do not count; once another admin exists the same change goes through.
import t, { type Test } from 'tap'
import type { KeyStore } from '../../core/store/store.ts'
import { ADMIN_TOKEN, startAdmin } from '../helpers/admin.ts'
import { redisStore, sqliteStore } from '../helpers/stores.ts'

async function guarded (t: Test, store: KeyStore) {
  const h = await startAdmin(t, { store })
  const call = (method: 'PATCH' | 'DELETE', id: string, body?: unknown) =>
    h.request({ method, url: `/api/users/${id}`, token: ADMIN_TOKEN, ...(body === undefined ? {} : { body }) })
  const create = async (body: Record<string, unknown>) => (await h.request({ method: 'POST', url: '/api/users', token: ADMIN_TOKEN, body })).json()

  const ada = await create({ email: 'ada@example.com', role: 'admin' })
  await create({ email: 'bob@example.com' })
  const retired = await create({ email: 'old@example.com', role: 'admin', disabled: true })

  for (const [what, method, body] of [
    ['disable', 'PATCH', { disabled: true }],
    ['demote', 'PATCH', { role: 'user' }],
    ['demote and rename', 'PATCH', { role: 'user', name: 'Ada' }],
    ['delete', 'DELETE', undefined]
  ] as const) {
    const res = await call(method, ada.id, body)
    t.equal(res.statusCode, 409, `${what}: refused`)
    t.equal(res.json().code, 'MCPGATE_LAST_ADMIN', `${what}: stable code`)
    t.match(res.json().message, /ada@example\.com.*last enabled admin/, `${what}: the message says why`)
    t.match(res.json().message, /admin token still works/, `${what}: and that the bootstrap admin token still works`)
  }
  t.match(await store.getUser(ada.id), { role: 'admin', disabled: false, name: 'ada@example.com' }, 'nothing was written')
  t.equal(h.auditEvents('user.updated').length + h.auditEvents('user.deleted').length, 0, 'nothing audited as done')

  t.equal((await call('PATCH', ada.id, { name: 'Ada Lovelace' })).statusCode, 200, 'other changes of the last admin go through')
  t.equal((await call('PATCH', ada.id, { role: 'admin', disabled: false })).statusCode, 200, 'so does a change that keeps them an enabled admin')
  t.equal((await call('DELETE', retired.id)).statusCode, 204, 'a disabled admin does not count and may go')

  const cy = await create({ email: 'cy@example.com', role: 'admin' })
  t.equal((await call('PATCH', ada.id, { role: 'user' })).statusCode, 200, 'with another enabled admin, a demotion goes through')
  const last = await call('PATCH', cy.id, { disabled: true })
  t.equal(last.json().code, 'MCPGATE_LAST_ADMIN', 'and now the other one is the last')
  t.equal((await call('PATCH', ada.id, { role: 'admin' })).statusCode, 200)
  t.equal((await call('DELETE', cy.id)).statusCode, 204, 'a second admin again: deleting one goes through')
}

t.test('SQLite', async t => guarded(t, await sqliteStore(t)))
t.test('Redis', async t => guarded(t, await redisStore(t)))
