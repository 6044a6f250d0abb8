// The gateway's /metrics is valid Prometheus text (strict parser) and its counters move as they
// should through an allowed, a denied, a refused and a rate-limited request; labels carry no key
// or user id, and the process defaults are there.
import t from 'tap'
import { checksumOf } from '../../core/key-format.ts'
import { createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { parsePrometheusText, type Exposition } from '../helpers/prometheus.ts'
import { sqliteStore } from '../helpers/stores.ts'

t.test('counters through allowed, denied, invalid and rate-limited requests', async t => {
  const upstream = await startRawUpstream(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end('{"jsonrpc":"2.0","id":1,"result":{}}')
  })
  const store = await sqliteStore(t)
  const gw = await startGateway(t, {
    store,
    config: testConfig({
      // Two failed attempts per client IP, then 429.
      gateway: { guards: { failuresPerIp: 2, failuresPerKeyId: 100 } },
      servers: [{ id: 'alpha', url: `${upstream.origin}/mcp` }, { id: 'beta', url: `${upstream.origin}/mcp` }]
    })
  })
  const good = await createTestKey(store, { mcpServerIds: ['alpha'] })
  const victim = await createTestKey(store)
  const wrongBody = victim.key.slice(0, victim.key.length - victim.secret.length) + 'Z'.repeat(40)
  const wrong = wrongBody + checksumOf(wrongBody)

  async function scrape (): Promise<Exposition> {
    const res = await fetch(`${gw.url}/metrics`)
    t.equal(res.status, 200)
    t.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8')
    return parsePrometheusText(await res.text())
  }
  const post = async (server: string, key: string): Promise<number> => {
    const res = await fetch(gw.mcpUrl(server), { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: '{}' })
    await res.arrayBuffer()
    return res.status
  }

  const before = await scrape()
  t.equal(before.sum('mcpgate_gateway_requests_total'), 0, 'nothing counted yet')
  t.ok(before.families.has('process_cpu_seconds_total'), 'process defaults: CPU')
  t.ok(before.families.has('process_resident_memory_bytes'), 'process defaults: memory')
  t.ok(before.families.has('nodejs_eventloop_lag_seconds'), 'process defaults: event loop lag')

  t.equal(await post('alpha', good.key), 200, 'allowed (argon2)')
  t.equal(await post('alpha', good.key), 200, 'allowed (cache)')
  t.equal(await post('beta', good.key), 404, 'denied: out of scope (answered as an unknown server)')
  t.equal(await post('alpha', wrong), 401, 'wrong secret')
  t.equal(await post('alpha', wrong), 401, 'wrong secret again (negative cache)')
  t.equal(await post('alpha', wrong), 429, 'rate limited')
  t.equal(await post('alpha', good.key), 200, 'valid traffic is not limited')

  const m = await scrape()
  const requests = (server: string, status: string): number | undefined =>
    m.value('mcpgate_gateway_requests_total', { server, method: 'POST', status })
  t.equal(requests('alpha', '200'), 3)
  t.equal(requests('beta', '404'), 1)
  t.equal(requests('alpha', '401'), 2)
  t.equal(requests('alpha', '429'), 1)
  t.equal(m.value('mcpgate_gateway_requests_total', { server: 'none', method: 'GET', status: '200' }), 1, 'the first scrape is counted by the second')

  const outcome = (o: string): number | undefined => m.value('mcpgate_auth_outcomes_total', { outcome: o })
  t.equal(outcome('cache_miss_verified'), 1)
  t.equal(outcome('cache_hit'), 2)
  t.equal(outcome('out_of_scope'), 1)
  t.equal(outcome('invalid'), 2)
  t.equal(outcome('rate_limited'), 1)
  t.equal(m.sum('mcpgate_auth_outcomes_total'), 7, 'one outcome per request on a key-protected route')

  t.equal(m.value('mcpgate_argon2_verify_duration_seconds_count', { result: 'valid' }), 1)
  t.equal(m.value('mcpgate_argon2_verify_duration_seconds_count', { result: 'invalid' }), 1, 'the repeat was answered by the negative cache')
  t.ok(m.value('mcpgate_argon2_verify_duration_seconds_sum', { result: 'valid' })! > 0, 'argon2 took time')
  t.equal(m.value('mcpgate_key_cache_entries', { cache: 'keys' }), 1)
  t.equal(m.value('mcpgate_key_cache_entries', { cache: 'negative' }), 1)
  const hits = m.value('mcpgate_key_cache_hits_total')!
  const misses = m.value('mcpgate_key_cache_misses_total')!
  t.equal(hits, 3, 'three requests found the good key in the cache')
  t.equal(m.value('mcpgate_key_cache_hit_ratio'), hits / (hits + misses))
  t.equal(m.value('mcpgate_upstream_response_seconds_count', { server: 'alpha' }), 3, 'three requests reached the upstream')
  t.equal(m.value('mcpgate_store_operation_duration_seconds_count', { operation: 'getKeyWithOwner' }), 2, 'two store reads: the good key and the wrong secret')
  t.equal(m.sum('mcpgate_store_errors_total'), 0)
  t.equal(m.value('mcpgate_store_subscribed'), 1)
  t.equal(m.value('mcpgate_servers_configured'), 2)

  const labels = m.labelValues().join(' ')
  for (const k of [good, victim]) {
    t.notOk(labels.includes(k.keyId), 'no key id in any label')
    t.notOk(labels.includes(k.user.id), 'no user id in any label')
  }
})
