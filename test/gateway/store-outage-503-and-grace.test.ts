// Store unreachable (a hung redis-server): an uncached key gets 503 MCPGATE_STORE_UNAVAILABLE with
// Retry-After — never 401; a cached key is served for the grace window counted from the last
// healthy store contact (counted), with expiry and scope still enforced; after it, 503. Once the
// gateway has seen the store fail, the window bounds fresh cache entries too.
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

  t.equal((await send(cached.key)).status, 200, 'cached and fresh, no store failure seen yet: no store needed')
  t.equal(stats.graceServed, 0, 'not grace: the gateway does not know the store is down')
  const readsBefore = stats.storeReads
  t.same(await send(uncached.key), { status: 503, retryAfter: '2', code: 'MCPGATE_STORE_UNAVAILABLE' }, 'uncached key: 503, not 401')
  t.equal(stats.storeReads, readsBefore + 1, 'the uncached key tried the store')
  t.equal((await send(cached.key)).status, 200, 'cached and fresh, store seen failing: served within grace')
  t.equal(stats.graceServed, 1, 'and counted as grace')
  t.equal(stats.storeReads, readsBefore + 1, 'without waiting on the store')

  clock.advance(31_000)
  t.equal((await send(cached.key)).status, 200, 'revalidation due, store down: served within grace')
  t.equal(stats.graceServed, 2, 'grace use is counted')
  t.same(await send(cached.key, 'other'), { status: 404, retryAfter: null, code: 'MCPGATE_SERVER_NOT_FOUND' }, 'scope still enforced in grace')

  clock.advance(10_000)
  t.equal((await send(expiring.key)).code, 'MCPGATE_KEY_EXPIRED', 'expiry still enforced in grace')

  clock.advance(20_000) // 61 s after the last healthy contact
  t.same(await send(cached.key), { status: 503, retryAfter: '2', code: 'MCPGATE_STORE_UNAVAILABLE' }, 'grace over: 503')
  t.ok(stats.storeErrors >= 3, 'store errors counted')

  redis.resume()
  t.equal((await send(cached.key)).status, 200, 'store back: revalidated and served')
  t.equal((await send(uncached.key)).status, 200, 'and uncached keys verify again')
})

t.test('graceMs 0: a fresh cached key fails closed once the gateway sees the store fail, and recovers by itself', async t => {
  const clock = new ManualClock()
  const upstream = await startRawUpstream(t, (_req, res) => { res.end('{}') })
  const redis = await testRedis(t)
  const store = await redisStore(t, redis, { clock, commandTimeoutMs: 100 })
  const gw = await startGateway(t, {
    store,
    clock,
    config: testConfig({
      // Flushed by hand below: the test decides when the gateway learns of the outage.
      gateway: { cache: { revalidateMs: 30_000, graceMs: 0 }, lastUsedFlushMs: 0 },
      servers: [{ id: 'up', url: `${upstream.origin}/mcp` }]
    })
  })
  const send = async (key: string) => {
    const res = await fetch(gw.mcpUrl('up'), { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: '{}' })
    const body = await res.json() as { error?: { data: { code: string } } }
    return { status: res.status, code: body.error?.data.code }
  }
  const { stats, lastUsed, health } = gw.app.mcpgate
  const cached = await createTestKey(store, { clock })
  t.equal((await send(cached.key)).status, 200, 'verified and cached')

  redis.pause()
  t.teardown(() => redis.resume())
  clock.advance(1)
  t.equal((await send(cached.key)).status, 200, 'fresh entry, no failure seen: served from the cache')
  t.equal(health.failing, false)

  // What tells a gateway whose keys are all cached: its batched lastUsedAt write fails.
  await lastUsed.flush()
  t.equal(health.failing, true, 'a failed lastUsedAt write marks the store failing')
  const revalidations = stats.revalidations
  t.same(await send(cached.key), { status: 503, code: 'MCPGATE_STORE_UNAVAILABLE' }, 'fresh entry, store failing, no grace: 503')
  t.equal(stats.revalidations, revalidations + 1, 'after one revalidation attempt')
  t.equal(stats.graceServed, 0, 'nothing served from grace')

  redis.resume()
  t.equal((await send(cached.key)).status, 200, 'store back: the next request revalidates and is served')
  t.equal(health.failing, false, 'the successful read ends the outage')
  const after = stats.revalidations
  t.equal((await send(cached.key)).status, 200)
  t.equal(stats.revalidations, after, 'and later requests are cache hits again')
})

t.test('a failed readiness probe also marks the store failing', async t => {
  const redis = await testRedis(t)
  const store = await redisStore(t, redis, { commandTimeoutMs: 100 })
  const gw = await startGateway(t, { store, config: testConfig({ servers: [] }) })
  redis.pause()
  t.teardown(() => redis.resume())
  const down = await fetch(`${gw.url}/readyz`)
  t.match({ status: down.status, body: await down.json() }, { status: 503, body: { store: 'unavailable' } })
  t.equal(gw.app.mcpgate.health.failing, true)
  redis.resume()
  // The store answers at once; the subscription (also part of readiness) may still be coming back.
  const up = await fetch(`${gw.url}/readyz`)
  t.match(await up.json(), { store: 'ok' })
  t.equal(gw.app.mcpgate.health.failing, false, 'a successful probe clears it')
})
