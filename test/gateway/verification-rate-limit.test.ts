// First uses of keys (argon2 verifications of keys not yet proven) beyond
// guards.maxVerificationsPerSecond answer 503 MCPGATE_OVERLOADED with Retry-After; the rate
// refills on the injected clock, and cached keys are never limited by it.
import t from 'tap'
import { ManualClock } from '../../core/clock.ts'
import { createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

t.test('verifications beyond the rate → 503 until the bucket refills', async t => {
  const clock = new ManualClock()
  const upstream = await startRawUpstream(t, (_req, res) => { res.end('{}') })
  const store = await sqliteStore(t, { clock })
  const config = testConfig({
    gateway: { guards: { maxVerificationsPerSecond: 2 }, cache: { revalidateMs: 24 * 3600_000 } },
    servers: [{ id: 'up', url: `${upstream.origin}/mcp` }]
  })
  const gw = await startGateway(t, { store, clock, config })
  const send = async (key: string) => {
    const res = await fetch(gw.mcpUrl('up'), { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: '{}' })
    const body = await res.json() as { error?: { data: { code: string } } }
    return { status: res.status, retryAfter: res.headers.get('retry-after'), code: body.error?.data.code }
  }
  const [k0, k1, k2, k3] = await Promise.all(Array.from({ length: 4 }, () => createTestKey(store, { clock })))
  if (k0 === undefined || k1 === undefined || k2 === undefined || k3 === undefined) throw new Error('unreachable')
  const argon2 = () => gw.app.mcpgate.stats.argon2Verifications

  t.equal((await send(k0.key)).status, 200, 'first new key verified')
  t.equal((await send(k1.key)).status, 200, 'second new key verified (the bucket holds one second: 2)')
  t.same(await send(k2.key), { status: 503, retryAfter: '1', code: 'MCPGATE_OVERLOADED' }, 'third in the same second refused')
  t.equal(argon2(), 2, 'the refused one cost no argon2')
  t.equal((await send(k0.key)).status, 200, 'a cached key is not limited')

  clock.advance(499)
  t.equal((await send(k2.key)).status, 503, 'not yet a whole token after 499 ms at 2/s')
  clock.advance(1)
  t.equal((await send(k2.key)).status, 200, 'one token after 500 ms')
  t.equal((await send(k3.key)).status, 503, 'and only one')
  clock.advance(10_000)
  t.equal((await send(k3.key)).status, 200, 'refilled')
  t.equal(argon2(), 4, 'one verification per admitted first use')
})
