// End to end: disabling a user over the admin API stops every key of theirs at the gateway at
// once, re-enabling restores them, and deleting the user refuses their keys for good.
import t, { type Test } from 'tap'
import { ADMIN_TOKEN, startStack } from '../helpers/admin.ts'

async function disable (t: Test, kind: 'sqlite' | 'redis') {
  const { admin, send, sendUntil } = await startStack(t, kind)
  const user = (await admin.request({ method: 'POST', url: '/api/users', token: ADMIN_TOKEN, body: { email: 'bot@example.com' } })).json()
  const keys: string[] = []
  for (const name of ['one', 'two']) {
    const res = await admin.request({ method: 'POST', url: `/api/users/${user.id}/api-keys`, token: ADMIN_TOKEN, body: { name, mcpServerIds: ['*'] } })
    keys.push(res.json().key)
  }
  for (const key of keys) t.equal((await send('alpha', key)).status, 200, 'works before')

  const answer = (key: string, until: (s: number) => boolean) => kind === 'sqlite' ? send('alpha', key) : sendUntil('alpha', key, until)

  t.equal((await admin.request({ method: 'PATCH', url: `/api/users/${user.id}`, token: ADMIN_TOKEN, body: { disabled: true } })).statusCode, 200)
  for (const key of keys) t.same(await answer(key, s => s !== 200), { status: 401, code: 'MCPGATE_OWNER_DISABLED' }, 'every key of the disabled user refused')

  t.equal((await admin.request({ method: 'PATCH', url: `/api/users/${user.id}`, token: ADMIN_TOKEN, body: { disabled: false } })).statusCode, 200)
  for (const key of keys) t.equal((await answer(key, s => s === 200)).status, 200, 're-enabled: works again')

  t.equal((await admin.request({ method: 'DELETE', url: `/api/users/${user.id}`, token: ADMIN_TOKEN })).statusCode, 204)
  for (const key of keys) t.same(await answer(key, s => s !== 200), { status: 401, code: 'MCPGATE_KEY_INVALID' }, 'user deleted: keys refused')
}

t.test('SQLite', async t => disable(t, 'sqlite'))
t.test('Redis', async t => disable(t, 'redis'))
