// gateway.metricsPort: /metrics moves to its own port (started with the app, stopped with it) and
// is no longer answered on the public gateway port.
import t from 'tap'
import { createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { parsePrometheusText } from '../helpers/prometheus.ts'
import { sqliteStore } from '../helpers/stores.ts'

t.test('metrics on a separate port', async t => {
  const store = await sqliteStore(t)
  const gw = await startGateway(t, { store, config: testConfig({ gateway: { metricsPort: 0 } }) })
  const metricsUrl = gw.app.mcpgateMetrics.url()
  t.ok(metricsUrl !== null, 'the metrics server is listening once the app is ready')
  t.not(metricsUrl, gw.url, 'on another port')

  const onGateway = await fetch(`${gw.url}/metrics`)
  t.equal(onGateway.status, 404, 'not on the gateway port')
  t.match(await onGateway.json(), { code: 'MCPGATE_ROUTE_NOT_FOUND' })

  const { key } = await createTestKey(store)
  t.equal((await fetch(`${gw.url}/api/me`, { headers: { authorization: `Bearer ${key}` } })).status, 200)

  const res = await fetch(`${metricsUrl!}/metrics`)
  t.equal(res.status, 200)
  t.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8')
  const m = parsePrometheusText(await res.text())
  t.equal(m.value('mcpgate_gateway_requests_total', { server: 'none', method: 'GET', status: '200' }), 1, 'the gateway request is counted')
  t.equal(m.value('mcpgate_gateway_requests_total', { server: 'none', method: 'GET', status: '404' }), 1, 'the refused /metrics probe too')
  t.equal(m.value('mcpgate_auth_outcomes_total', { outcome: 'cache_miss_verified' }), 1)

  t.equal((await fetch(`${metricsUrl!}/other`)).status, 404, 'only /metrics on the metrics port')
  t.equal((await fetch(`${metricsUrl!}/metrics`, { method: 'POST' })).status, 404, 'only GET')

  await gw.app.close()
  t.equal(gw.app.mcpgateMetrics.url(), null)
  await t.rejects(fetch(`${metricsUrl!}/metrics`), 'the metrics port closed with the app')
})
