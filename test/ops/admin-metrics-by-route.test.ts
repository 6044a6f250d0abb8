// The admin API's /metrics: valid Prometheus text with requests counted by route pattern (never by
// raw URL, so ids in paths do not become labels), method and status, plus the process defaults.
import t from 'tap'
import { ADMIN_TOKEN, startAdmin } from '../helpers/admin.ts'
import { parsePrometheusText } from '../helpers/prometheus.ts'

t.test('admin metrics by route and status', async t => {
  const admin = await startAdmin(t)
  const created = await admin.request({ method: 'POST', url: '/api/users', token: ADMIN_TOKEN, body: { email: 'ops@example.com' } })
  t.equal(created.statusCode, 201)
  const userId = created.json().id as string
  t.equal((await admin.request({ method: 'GET', url: `/api/users/${userId}`, token: ADMIN_TOKEN })).statusCode, 200)
  t.equal((await admin.request({ method: 'GET', url: '/api/users/nosuchuser', token: ADMIN_TOKEN })).statusCode, 404)
  t.equal((await admin.request({ method: 'GET', url: '/api/users' })).statusCode, 401)
  t.equal((await admin.request({ method: 'GET', url: '/no/such/route' })).statusCode, 404)

  const res = await admin.request({ method: 'GET', url: '/metrics' })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8')
  const m = parsePrometheusText(res.body)
  const count = (route: string, method: string, status: string): number | undefined =>
    m.value('mcpgate_admin_requests_total', { route, method, status })
  t.equal(count('/api/users', 'POST', '201'), 1)
  t.equal(count('/api/users/:id', 'GET', '200'), 1, 'the route pattern, not the URL')
  t.equal(count('/api/users/:id', 'GET', '404'), 1)
  t.equal(count('/api/users', 'GET', '401'), 1)
  t.equal(count('none', 'GET', '404'), 1, 'unknown routes share one label')
  t.notOk(m.labelValues().some(v => v.includes(userId) || v.includes('nosuchuser') || v.includes('/no/such')), 'no ids or raw URLs in labels')
  t.ok(m.families.has('process_cpu_seconds_total'), 'process defaults')
  t.ok(m.families.has('nodejs_heap_size_used_bytes'), 'process defaults: heap')

  const doc = await admin.request({ method: 'GET', url: '/openapi.json' })
  t.notOk(Object.keys(doc.json().paths).includes('/metrics'), '/metrics stays out of the OpenAPI document')
})
