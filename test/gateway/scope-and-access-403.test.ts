// Effective access = key scope ∩ the owner's *current* access: out of scope or lost access → 403
// with `error="insufficient_scope"`; a role or group change applies on the next request.
import t from 'tap'
import { createTestKey, createTestUser, startGateway, testConfig } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

t.test('403 insufficient_scope', async t => {
  const upstream = await startRawUpstream(t, (_req, res) => { res.end('{}') })
  const store = await sqliteStore(t)
  const url = `${upstream.origin}/mcp`
  const gw = await startGateway(t, {
    store,
    config: testConfig({
      servers: [
        { id: 'a', url },
        { id: 'b', url },
        { id: 'admins', url, access: { roles: ['admin'] } },
        { id: 'team', url, access: { groups: ['team'] } }
      ]
    })
  })
  const send = async (serverId: string, key: string) => {
    const res = await fetch(gw.mcpUrl(serverId), { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: '{}' })
    const body = await res.json() as { error?: { message: string, data: { code: string } } }
    return { status: res.status, challenge: res.headers.get('www-authenticate'), code: body.error?.data.code, message: body.error?.message }
  }
  const insufficient = 'Bearer realm="mcpgate", error="insufficient_scope"'

  const scoped = await createTestKey(store, { mcpServerIds: ['a'] })
  t.equal((await send('a', scoped.key)).status, 200, 'in scope')
  t.same(await send('b', scoped.key), {
    status: 403, challenge: insufficient, code: 'MCPGATE_KEY_OUT_OF_SCOPE', message: 'The API key is not scoped to MCP server "b"'
  }, 'out of scope')

  const user = await createTestUser(store, { role: 'user' })
  const wildcard = await createTestKey(store, { user, mcpServerIds: ['*'] })
  t.same(await send('admins', wildcard.key), {
    status: 403, challenge: insufficient, code: 'MCPGATE_ACCESS_DENIED', message: 'The owner of this API key has no access to MCP server "admins"'
  }, '"*" does not reach beyond the owner\'s access')
  await store.updateUser(user.id, { role: 'admin' })
  t.equal((await send('admins', wildcard.key)).status, 200, 'promoted: allowed on the next request')
  await store.updateUser(user.id, { role: 'user' })
  t.equal((await send('admins', wildcard.key)).code, 'MCPGATE_ACCESS_DENIED', 'demoted: denied on the next request')

  t.equal((await send('team', wildcard.key)).code, 'MCPGATE_ACCESS_DENIED', 'not in the group')
  await store.updateUser(user.id, { groups: ['team'] })
  t.equal((await send('team', wildcard.key)).status, 200, 'joined the group')

  const onlyAdmins = await createTestKey(store, { user, mcpServerIds: ['admins'] })
  t.equal((await send('admins', onlyAdmins.key)).code, 'MCPGATE_ACCESS_DENIED', 'in scope but the owner lost access')
  t.equal((await send('team', onlyAdmins.key)).code, 'MCPGATE_KEY_OUT_OF_SCOPE', 'owner has access but the key is not scoped')

  t.equal(upstream.requests.length, 3, 'only the allowed requests reached the upstream')
})
