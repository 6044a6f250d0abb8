// /healthz answers while the process serves; /readyz needs the store to answer and the
// invalidation subscription to be live (a hung redis-server makes it 503, recovery makes it 200).
import t from 'tap'
import { startGateway, testConfig } from '../helpers/gateway.ts'
import { redisStore, sqliteStore, testRedis } from '../helpers/stores.ts'

async function poll (fn: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (!(await fn())) {
    if (Date.now() > deadline) return false
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  return true
}

t.test('SQLite', async t => {
  const store = await sqliteStore(t)
  const gw = await startGateway(t, { store, config: testConfig() })
  const health = await fetch(`${gw.url}/healthz`)
  t.same([health.status, await health.json()], [200, { status: 'ok' }])
  const ready = await fetch(`${gw.url}/readyz`)
  t.same([ready.status, await ready.json()], [200, { status: 'ready', store: 'ok', subscribed: true }])
})

t.test('Redis, through an outage', async t => {
  const redis = await testRedis(t)
  const store = await redisStore(t, redis, { commandTimeoutMs: 100 })
  const gw = await startGateway(t, { store, config: testConfig() })
  t.ok(await poll(async () => (await fetch(`${gw.url}/readyz`)).status === 200, 5000), 'ready once subscribed')

  redis.pause()
  t.teardown(() => redis.resume())
  const down = await fetch(`${gw.url}/readyz`)
  t.equal(down.status, 503)
  t.equal(down.headers.get('retry-after'), '2')
  t.match(await down.json(), { status: 'not ready', store: 'unavailable' })
  t.equal((await fetch(`${gw.url}/healthz`)).status, 200, 'still alive')

  redis.resume()
  t.ok(await poll(async () => (await fetch(`${gw.url}/readyz`)).status === 200, 10000), 'ready again after recovery')
})
