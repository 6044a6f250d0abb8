// End to end: removing a user from the group that grants a server (PATCH groups over the admin
// API) turns that server into 404 (not found, like an unknown server) at the gateway while the user's other servers keep working.
import t, { type Test } from 'tap'
import { ADMIN_TOKEN, startStack } from '../helpers/admin.ts'

async function removal (t: Test, kind: 'sqlite' | 'redis') {
  const { admin, send, sendUntil } = await startStack(t, kind)
  const user = (await admin.request({ method: 'POST', url: '/api/users', token: ADMIN_TOKEN, body: { email: 'bea@example.com', groups: ['beta-team', 'other'] } })).json()
  const scoped = (await admin.request({ method: 'POST', url: `/api/users/${user.id}/api-keys`, token: ADMIN_TOKEN, body: { name: 'both', mcpServerIds: ['alpha', 'beta'] } })).json().key
  const wildcard = (await admin.request({ method: 'POST', url: `/api/users/${user.id}/api-keys`, token: ADMIN_TOKEN, body: { name: 'all', mcpServerIds: ['*'] } })).json().key
  for (const key of [scoped, wildcard]) {
    t.equal((await send('alpha', key)).status, 200)
    t.equal((await send('beta', key)).status, 200, 'beta through the group')
  }

  t.equal((await admin.request({ method: 'PATCH', url: `/api/users/${user.id}`, token: ADMIN_TOKEN, body: { groups: ['other'] } })).statusCode, 200)
  for (const key of [scoped, wildcard]) {
    const beta = kind === 'sqlite' ? await send('beta', key) : await sendUntil('beta', key, s => s !== 200)
    t.same(beta, { status: 404, code: 'MCPGATE_SERVER_NOT_FOUND' }, 'beta: 404 once out of the group')
    t.equal((await send('alpha', key)).status, 200, 'alpha: still fine')
  }

  // And the key form no longer offers beta, nor accepts it for a new key.
  const again = await admin.request({ method: 'POST', url: `/api/users/${user.id}/api-keys`, token: ADMIN_TOKEN, body: { name: 'beta', mcpServerIds: ['beta'] } })
  t.equal(again.statusCode, 400)
  t.equal(again.json().message, 'MCP server "beta" not found')
}

t.test('SQLite', async t => removal(t, 'sqlite'))
t.test('Redis', async t => removal(t, 'redis'))
