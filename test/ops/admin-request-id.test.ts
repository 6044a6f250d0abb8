// The admin API's X-Request-Id: a valid one (1-128 of [A-Za-z0-9._:-]) is kept, returned and
// logged; anything else is replaced by a random UUID, as on the gateway.
import t from 'tap'
import { ADMIN_TOKEN, startAdmin } from '../helpers/admin.ts'

t.test('admin X-Request-Id', async t => {
  const admin = await startAdmin(t)
  const kept = await admin.request({ method: 'GET', url: '/api/me', token: ADMIN_TOKEN, headers: { 'x-request-id': 'lb-7f3a.01:z_9' } })
  t.equal(kept.headers['x-request-id'], 'lb-7f3a.01:z_9', 'a valid id is kept and returned')
  t.ok(admin.logs.some(l => l.reqId === 'lb-7f3a.01:z_9'), 'and used in the log')

  for (const bad of ['with space', 'x'.repeat(129), 'quote"d', 'new\\nline']) {
    const res = await admin.request({ method: 'GET', url: '/healthz', headers: { 'x-request-id': bad } })
    const id = res.headers['x-request-id'] as string
    t.not(id, bad, `refused: ${bad.slice(0, 20)}`)
    t.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'replaced by a UUID')
  }
  const none = await admin.request({ method: 'GET', url: '/healthz' })
  t.match(none.headers['x-request-id'], /^[0-9a-f-]{36}$/, 'generated when absent')
})
