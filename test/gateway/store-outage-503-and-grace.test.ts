// Store unreachable (a hung redis-server): an uncached key gets 503 MCPGATE_STORE_UNAVAILABLE with
// Retry-After — never 401; a cached key is served for the grace window counted from the last
// healthy store contact (counted), with expiry and scope still enforced; after it, 503.
import t from 'tap'
import { ManualClock } from '../../core/clock.ts'
import { createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { redisStore, testRedis } from '../helpers/stores.ts'

t.test('outage', async t => {
  const clock = new ManualClock()
  const upstream = await startRawUpstream(t, (_req, res) => { res.end('{}') })
  const redis = await testRedis(t)
  const store = await redisStore(t, redis, { clock, commandTimeoutMs: 100 })
  const url = `${upstream.origin}/mcp`
  const gw = await startGateway(t, {
    store,
    clock,
    config: testConfig({
      gateway: { cache: { revalidateMs: 30_000, graceMs: 60_000 } },
      servers: [{ id: 'up', url }, { id: 'other', url }]
    })
  })
  const send = async (key: string, serverId = 'up') => {
    const res = await fetch(gw.mcpUrl(serverId), { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: '{}' })
    const body = await res.json() as { error?: { data: { code: string } } }
    // 503 must not look like a bad key: no WWW-Authenticate challenge.
    if (res.status === 503 && res.headers.get('www-authenticate') !== null) throw new Error('503 with WWW-Authenticate')
    return { status: res.status, retryAfter: res.headers.get('retry-after'), code: body.error?.data.code }
  }
  const stats = gw.app.mcpgate.stats

  const cached = await createTestKey(store, { clock, mcpServerIds: ['up'] })
  const expiring = await createTestKey(store, { clock, expiresAt: clock.now() + 40_000 })
  const uncached = await createTestKey(store, { clock })
  t.equal((await send(cached.key)).status, 200)
  t.equal((await send(expiring.key)).status, 200)

  redis.pause()
  t.teardown(() => redis.resume())

  t.same(await send(uncached.key), { status: 503, retryAfter: '2', code: 'MCPGATE_STORE_UNAVAILABLE' }, 'uncached key: 503, not 401')
  t.equal((await send(cached.key)).status, 200, 'cached and fresh: no store needed')
  t.equal(stats.graceServed, 0)

  clock.advance(31_000)
  t.equal((await send(cached.key)).status, 200, 'revalidation due, store down: served within grace')
  t.equal(stats.graceServed, 1, 'grace use is counted')
  t.same(await send(cached.key, 'other'), { status: 403, retryAfter: null, code: 'MCPGATE_KEY_OUT_OF_SCOPE' }, 'scope still enforced in grace')

  clock.advance(10_000)
  t.equal((await send(expiring.key)).code, 'MCPGATE_KEY_EXPIRED', 'expiry still enforced in grace')

  clock.advance(20_000) // 61 s after the last healthy contact
  t.same(await send(cached.key), { status: 503, retryAfter: '2', code: 'MCPGATE_STORE_UNAVAILABLE' }, 'grace over: 503')
  t.ok(stats.storeErrors >= 3, 'store errors counted')

  redis.resume()
  t.equal((await send(cached.key)).status, 200, 'store back: revalidated and served')
  t.equal((await send(uncached.key)).status, 200, 'and uncached keys verify again')
})
