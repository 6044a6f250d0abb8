// /readyz on both services follows the store: redis-server killed → 503 (while /healthz stays 200),
// restarted → 200 again; the gateway also reports its invalidation subscription in /metrics.
import t from 'tap'
import { startAdmin } from '../helpers/admin.ts'
import { startGateway, testConfig } from '../helpers/gateway.ts'
import { parsePrometheusText } from '../helpers/prometheus.ts'
import { redisStore, testRedis } from '../helpers/stores.ts'

/** Polls until `fn` holds or the deadline passes; returns whether it held. */
async function eventually (fn: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (!(await fn())) {
    if (Date.now() > deadline) return false
    await new Promise(resolve => setTimeout(resolve, 25))
  }
  return true
}

t.test('readyz through a redis outage', async t => {
  const redis = await testRedis(t)
  const gatewayStore = await redisStore(t, redis, { commandTimeoutMs: 100, connectTimeoutMs: 1000 })
  const adminStore = await redisStore(t, redis, { commandTimeoutMs: 100, connectTimeoutMs: 1000 })
  const gw = await startGateway(t, { store: gatewayStore, config: testConfig() })
  const admin = await startAdmin(t, { store: adminStore })
  const gatewayReady = async (): Promise<number> => (await fetch(`${gw.url}/readyz`)).status
  const adminReady = async (): Promise<number> => (await admin.request({ method: 'GET', url: '/readyz' })).statusCode
  const subscribed = async (): Promise<number | undefined> =>
    parsePrometheusText(await (await fetch(`${gw.url}/metrics`)).text()).value('mcpgate_store_subscribed')

  t.ok(await eventually(async () => await gatewayReady() === 200, 5000), 'gateway ready once subscribed')
  t.equal(await adminReady(), 200, 'admin ready')
  t.equal(await subscribed(), 1)

  await redis.kill()
  t.ok(await eventually(async () => await gatewayReady() === 503, 5000), 'gateway: 503 while redis is down')
  const body = await (await fetch(`${gw.url}/readyz`)).json()
  t.match(body, { status: 'not ready', store: 'unavailable' })
  t.equal(await adminReady(), 503, 'admin: 503 while redis is down')
  t.equal((await fetch(`${gw.url}/healthz`)).status, 200, 'gateway still alive')
  t.equal((await admin.request({ method: 'GET', url: '/healthz' })).statusCode, 200, 'admin still alive')
  t.equal(await subscribed(), 0, 'the lost subscription shows in /metrics')

  await redis.restart()
  t.ok(await eventually(async () => await gatewayReady() === 200, 15000), 'gateway ready again after redis returns (resubscribed)')
  t.ok(await eventually(async () => await adminReady() === 200, 15000), 'admin ready again')
  t.equal(await subscribed(), 1)
  const m = parsePrometheusText(await (await fetch(`${gw.url}/metrics`)).text())
  t.ok(m.value('mcpgate_store_errors_total', { operation: 'ping' })! >= 1, 'the failed pings were counted as store errors')
})
