// Expiry is checked on every request — cache hit or not — against the injected clock (no sleeps).
import t from 'tap'
import { ManualClock } from '../../core/clock.ts'
import { createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

t.test('expired keys', async t => {
  const clock = new ManualClock()
  const upstream = await startRawUpstream(t, (_req, res) => { res.end('{}') })
  const store = await sqliteStore(t, { clock })
  // A long revalidation interval: the expiry must not depend on a store round trip.
  const config = testConfig({ gateway: { cache: { revalidateMs: 24 * 3600_000 } }, servers: [{ id: 'up', url: `${upstream.origin}/mcp` }] })
  const gw = await startGateway(t, { store, clock, config })
  const send = (key: string) => fetch(gw.mcpUrl('up'), { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: '{}' })

  const hour = 3600_000
  const live = await createTestKey(store, { clock, expiresAt: clock.now() + hour })
  t.equal((await send(live.key)).status, 200, 'valid before expiry (now cached)')
  clock.advance(hour - 1)
  t.equal((await send(live.key)).status, 200, 'valid 1 ms before expiry')
  clock.advance(1)
  const res = await send(live.key)
  t.equal(res.status, 401, 'expired exactly at expiresAt, on a cache hit')
  t.equal(res.headers.get('www-authenticate'), 'Bearer realm="mcpgate", error="invalid_token"')
  t.equal(((await res.json()) as { error: { data: { code: string } } }).error.data.code, 'MCPGATE_KEY_EXPIRED')
  t.equal(gw.app.mcpgate.stats.storeReads, 1, 'answered from the cache: one store read in total')

  const already = await createTestKey(store, { clock, expiresAt: clock.now() - 1 })
  const first = await send(already.key)
  t.equal(first.status, 401, 'an uncached expired key is refused')
  t.equal(((await first.json()) as { error: { data: { code: string } } }).error.data.code, 'MCPGATE_KEY_EXPIRED')
  const verifications = gw.app.mcpgate.stats.argon2Verifications
  t.equal((await send(already.key)).status, 401, 'and again')
  t.equal(gw.app.mcpgate.stats.argon2Verifications, verifications, 'repeats are answered from memory, no argon2')
  t.equal(upstream.requests.length, 2, 'expired keys never reached the upstream')
})
