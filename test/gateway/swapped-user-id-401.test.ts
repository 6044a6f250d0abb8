// A key whose userId segment is not the stored owner fails — cached or not — and is answered
// from the store read alone, without spending an argon2 verification.
import t from 'tap'
import { checksumOf } from '../../core/key-format.ts'
import { createTestKey, createTestUser, startGateway, testConfig } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

t.test('swapped userId', async t => {
  const upstream = await startRawUpstream(t, (_req, res) => { res.end('{}') })
  const store = await sqliteStore(t)
  const gw = await startGateway(t, { store, config: testConfig({ servers: [{ id: 'up', url: `${upstream.origin}/mcp` }] }) })
  const victim = await createTestKey(store)
  const attacker = await createTestUser(store)

  // Same keyId and random secret part, the attacker's userId, a valid checksum: passes the parser.
  const body = `ok1-${attacker.id}-${victim.keyId}-${victim.secret.slice(0, 40)}`
  const swapped = body + checksumOf(body)
  const send = (key: string) => fetch(gw.mcpUrl('up'), { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: '{}' })

  const first = await send(swapped)
  t.equal(first.status, 401, 'uncached: refused')
  t.equal(((await first.json()) as { error: { data: { code: string } } }).error.data.code, 'MCPGATE_KEY_INVALID')
  t.equal(gw.app.mcpgate.stats.argon2Verifications, 0, 'refused without argon2')

  t.equal((await send(victim.key)).status, 200, 'the real key works')
  t.equal(gw.app.mcpgate.stats.argon2Verifications, 1)

  const cached = await send(swapped)
  t.equal(cached.status, 401, 'with the real key cached: still refused')
  t.equal(gw.app.mcpgate.stats.argon2Verifications, 1, 'and still no argon2')
  t.equal(upstream.requests.length, 1, 'only the real key reached the upstream')
})
