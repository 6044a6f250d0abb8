// Effective access = key scope ∩ the owner's *current* access. A server the key or its owner may
// not reach answers exactly as an unknown server does — 404 MCPGATE_SERVER_NOT_FOUND, no challenge
// (no existence oracle, and a 403 sends MCP clients into OAuth) — while the access line tells the
// operator which it was; a role or group change applies on the next request.
import t from 'tap'
import { keyHint } from '../../gateway/reply-error.ts'
import { createTestKey, createTestUser, startGateway, testConfig } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

t.test('out of scope or out of access: 404 like an unknown server', async t => {
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
  const notFound = (id: string) => ({ status: 404, challenge: null, code: 'MCPGATE_SERVER_NOT_FOUND', message: `MCP server "${id}" not found. ${keyHint(undefined)}` })
  /** The outcome the access line recorded for the last request to `id`. */
  const outcome = (id: string): string | undefined => {
    const lines = gw.logs.lines.map(l => JSON.parse(l) as { msg: string, path?: string, outcome?: string }).filter(l => l.msg === 'access' && l.path === `/mcp-connect/${id}`)
    return lines.at(-1)?.outcome
  }

  const scoped = await createTestKey(store, { mcpServerIds: ['a'] })
  t.equal((await send('a', scoped.key)).status, 200, 'in scope')
  t.same(await send('b', scoped.key), notFound('b'), 'out of scope: the answer of an unknown server')
  t.same(await send('nope', scoped.key), notFound('nope'), 'an unknown server')
  t.equal(outcome('b'), 'out_of_scope', 'the access line says why')

  const user = await createTestUser(store, { role: 'user' })
  const wildcard = await createTestKey(store, { user, mcpServerIds: ['*'] })
  t.same(await send('admins', wildcard.key), notFound('admins'), '"*" does not reach beyond the owner\'s access')
  t.equal(outcome('admins'), 'access_denied')
  await store.updateUser(user.id, { role: 'admin' })
  t.equal((await send('admins', wildcard.key)).status, 200, 'promoted: allowed on the next request')
  await store.updateUser(user.id, { role: 'user' })
  t.equal((await send('admins', wildcard.key)).status, 404, 'demoted: refused on the next request')
  t.equal(outcome('admins'), 'access_denied')

  t.equal((await send('team', wildcard.key)).status, 404, 'not in the group')
  await store.updateUser(user.id, { groups: ['team'] })
  t.equal((await send('team', wildcard.key)).status, 200, 'joined the group')

  const onlyAdmins = await createTestKey(store, { user, mcpServerIds: ['admins'] })
  t.equal((await send('admins', onlyAdmins.key)).status, 404, 'in scope but the owner lost access')
  t.equal(outcome('admins'), 'access_denied')
  t.equal((await send('team', onlyAdmins.key)).status, 404, 'owner has access but the key is not scoped')
  t.equal(outcome('team'), 'out_of_scope')

  t.equal(upstream.requests.length, 3, 'only the allowed requests reached the upstream')
})
