// The audit trail never holds traffic up: with Redis frozen (SIGSTOP: every command times out),
// requests with a cached key are answered as before while their events wait in memory; once Redis
// answers again they are written, none lost. Past audit.bufferEvents, events are dropped —
// counted in the metric, and one error line says so, however many are dropped.
import t from 'tap'
import { connectStreamable, createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { startCatalogUpstream } from '../helpers/mcp-catalog-upstream.ts'
import { redisStore, testRedis } from '../helpers/stores.ts'

t.test('events wait out a Redis outage, and overflow is counted and logged once', async t => {
  const redis = await testRedis(t)
  const upstream = await startCatalogUpstream(t)
  const store = await redisStore(t, redis, { prefix: 'audit-outage:', commandTimeoutMs: 100 })
  const reader = await redisStore(t, redis, { prefix: 'audit-outage:' })
  const gw = await startGateway(t, {
    store,
    config: testConfig({ gateway: { shutdownGraceMs: 100 }, audit: { flushMs: 50, bufferEvents: 100 }, servers: [{ id: 'catalog', url: upstream.mcpUrl }] })
  })
  const key = await createTestKey(reader)
  const { client } = await connectStreamable(t, gw.mcpUrl('catalog'), key.key)
  await client.listTools()
  const audit = gw.app.mcpgate.audit
  if (audit === null) throw new Error('audit is on by default')
  await audit.flush()
  const before = (await reader.listAudit({ limit: 1000 })).items.length
  t.ok(before > 0, `${before} events of the connection written`)

  redis.pause()
  t.teardown(() => { redis.resume() })
  for (let i = 0; i < 40; i++) await client.callTool({ name: 'get_repo', arguments: {} })
  t.pass('40 tool calls answered with Redis frozen')
  await audit.flush()
  t.ok(audit.counters.failedWrites > 0, 'the writes failed meanwhile')
  t.equal(audit.buffered, 40, 'their events wait in memory')

  redis.resume()
  await audit.flush()
  t.equal(audit.buffered, 0, 'written once Redis answers')
  const calls = (await reader.listAudit({ limit: 1000, name: 'get_repo' })).items
  t.equal(calls.length, 40, 'none of them lost')

  // Overflow: 130 more events than the buffer holds while frozen.
  redis.pause()
  for (let i = 0; i < 130; i++) await client.callTool({ name: 'search_code', arguments: {} })
  t.equal(audit.counters.dropped, 30, 'past the buffer: 30 dropped')
  redis.resume()
  await audit.flush()
  t.equal((await reader.listAudit({ limit: 1000, name: 'search_code' })).items.length, 100, 'the 100 that fit were written')
  const overflowLines = gw.logs.lines.filter(l => l.includes('audit events are being dropped'))
  t.equal(overflowLines.length, 1, 'logged once')
  const metrics = await (await fetch(`${gw.url}/metrics`)).text()
  t.match(metrics, /mcpgate_audit_events_total\{result="dropped"\} 30/, 'counted in the metric')
})
