// Issue 26, service accounts: users of kind "service", made by admins, never signing in, email
// optional, role user (their access comes from groups, like anyone's). An admin gives them keys
// through POST /api/users/:id/api-keys; those keys reach what the groups grant, through the gateway,
// with no x-mcpgate-user-email upstream when the account has no email. GET /api/users?kind= lists
// one kind; deleting a service account deletes its keys, and the gateway refuses them at once.
import t from 'tap'
import { ADMIN_TOKEN, startAdmin, testConfig } from '../helpers/admin.ts'
import { startGateway } from '../helpers/gateway.ts'
import { startMcpUpstream } from '../helpers/mcp-upstream.ts'
import { startOidcIssuer } from '../helpers/oidc.ts'
import { sqliteStore } from '../helpers/stores.ts'

t.test('service accounts through the admin API and the gateway', async t => {
  const idp = await startOidcIssuer()
  t.teardown(() => idp.close())
  const upstream = await startMcpUpstream(t)
  const config = testConfig({
    servers: [
      { id: 'alpha', url: upstream.mcpUrl, access: 'everyone' },
      { id: 'beta', url: upstream.mcpUrl, access: { groups: ['ci'] }, identityHeaders: true },
      { id: 'gamma', url: upstream.mcpUrl, access: { roles: ['admin'] } }
    ]
  }, idp)
  const store = await sqliteStore(t)
  const admin = await startAdmin(t, { store, config })
  const gateway = await startGateway(t, { store, config })
  const post = (url: string, body: unknown) => admin.request({ method: 'POST', url, token: ADMIN_TOKEN, body })

  // Made by an admin, without an email.
  const made = await post('/api/users', { kind: 'service', name: 'CI bot', groups: ['ci'] })
  t.equal(made.statusCode, 201)
  const bot = made.json() as { id: string, kind: string, email: string, role: string }
  t.match(bot, { kind: 'service', email: '', name: 'CI bot', role: 'user', groups: ['ci'], disabled: false })
  const human = (await post('/api/users', { email: 'ada@example.com', name: 'Ada' })).json() as { id: string, kind: string }
  t.equal(human.kind, 'human', 'a user is a human unless said otherwise')
  const mailed = (await post('/api/users', { kind: 'service', email: 'deploy-bot@example.com' })).json() as { id: string, name: string }
  t.equal(mailed.name, 'deploy-bot@example.com', 'with an email, the name defaults to it, as for a human')

  // Bad input: a 400 naming the field, and nothing written.
  const refusals: Array<[unknown, RegExp]> = [
    [{ kind: 'service' }, /^name: is required for a service account without an email/],
    [{ kind: 'service', name: 'root bot', role: 'admin' }, /^role: a service account cannot be an admin/],
    [{ name: 'Nobody' }, /^email: is required \(only a service account may have none\)/],
    [{ kind: 'robot', name: 'x' }, /kind/]
  ]
  for (const [body, message] of refusals) {
    const res = await post('/api/users', body)
    t.equal(res.statusCode, 400, JSON.stringify(body))
    t.match(res.json(), { code: 'MCPGATE_VALIDATION_FAILED', message })
  }
  const promote = await admin.request({ method: 'PATCH', url: `/api/users/${bot.id}`, token: ADMIN_TOKEN, body: { role: 'admin' } })
  t.equal(promote.statusCode, 400, 'a service account is never promoted to admin')
  t.match(promote.json().message, /^role: /)
  t.equal((await admin.request({ method: 'PATCH', url: `/api/users/${human.id}`, token: ADMIN_TOKEN, body: { role: 'admin' } })).statusCode, 200, 'a human is')
  t.equal((await admin.request({ method: 'GET', url: '/api/users?limit=100', token: ADMIN_TOKEN })).json().items.length, 3, 'the refused ones were not written')

  // The Users page's filter.
  const list = async (kind: string) => (await admin.request({ method: 'GET', url: `/api/users?kind=${kind}`, token: ADMIN_TOKEN })).json().items.map((u: { id: string }) => u.id)
  t.same(await list('service'), [bot.id, mailed.id])
  t.same(await list('human'), [human.id])
  t.equal((await admin.request({ method: 'GET', url: '/api/users?kind=robots', token: ADMIN_TOKEN })).statusCode, 400, 'an unknown kind: 400')

  // No sign-in: not by the account's email, however verified.
  const signIn = await admin.request({ method: 'GET', url: '/api/me', token: await idp.sign({ sub: 'someone', email: 'deploy-bot@example.com', email_verified: true }) })
  t.equal(signIn.statusCode, 403)
  t.equal(signIn.json().code, 'MCPGATE_SERVICE_ACCOUNT_NO_SIGN_IN')
  t.notOk((await store.getUser(mailed.id))?.identity, 'nothing was linked to it')

  // Its keys: made by an admin, checked against its access (the ci group), working at the gateway.
  const key = (await post(`/api/users/${bot.id}/api-keys`, { name: 'pipeline', mcpServerIds: ['alpha', 'beta'] })).json() as { id: string, key: string, userId: string }
  t.equal(key.userId, bot.id)
  const unreachable = await post(`/api/users/${bot.id}/api-keys`, { name: 'admin-only', mcpServerIds: ['gamma'] })
  t.equal(unreachable.statusCode, 400, 'a server its groups do not grant is refused like anyone\'s')
  const owned = (await admin.request({ method: 'GET', url: `/api/admin-api-keys/${key.id}`, token: ADMIN_TOKEN })).json()
  t.match(owned.user, { id: bot.id, kind: 'service', email: '', name: 'CI bot' }, 'the admin key view names its owner\'s kind')

  const call = async (serverId: string) => fetch(gateway.mcpUrl(serverId), {
    method: 'POST',
    headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'ci', version: '1' } } })
  })
  const through = await call('beta')
  t.equal(through.status, 200, 'the key reaches the server its group grants')
  await through.text()
  const seen = await upstream.waitForRequest(r => r.headers['x-mcpgate-user-id'] === bot.id)
  t.equal(seen.headers['x-mcpgate-key-id'], key.id)
  t.notOk('x-mcpgate-user-email' in seen.headers, 'no email header for an account without an email (never an empty one)')

  // Deleting the account deletes its keys; the gateway refuses them at once.
  t.equal((await admin.request({ method: 'DELETE', url: `/api/users/${bot.id}`, token: ADMIN_TOKEN })).statusCode, 204)
  t.equal(await store.getKey(key.id), null, 'its key is gone')
  const after = await call('alpha')
  t.equal(after.status, 401, 'and refused by the gateway')
  await after.text()
  t.same(await list('service'), [mailed.id])
})
