// TallyCounter (core/metrics.ts): counts kept in a Map on the hot path reach Prometheus at scrape
// time, as a counter that only goes up by what was counted since the previous scrape.
import t from 'tap'
import { Registry } from 'prom-client'
import { TallyCounter } from '../../core/metrics.ts'

async function values (registry: Registry): Promise<Array<[string, number]>> {
  const [metric] = (await registry.getMetricsAsJSON()).filter(m => m.name === 'test_requests_total')
  return (metric?.values ?? []).map(v => [Object.values(v.labels).join(' '), v.value] as [string, number]).sort()
}

t.test('counts by key, labels given once per key, deltas per scrape', async t => {
  const registry = new Registry()
  const tally = new TallyCounter(registry, { name: 'test_requests_total', help: 'test', labelNames: ['server', 'status'] })
  const count = (server: string, status: number) => {
    const key = `${server} ${status}`
    if (!tally.inc(key)) tally.add(key, { server, status: String(status) })
  }
  t.equal(tally.inc('a 200'), false, 'an unknown key is not counted')
  t.same(await values(registry), [], 'nothing before the first count')
  count('a', 200)
  count('a', 200)
  count('b', 503)
  t.same(await values(registry), [['a 200', 2], ['b 503', 1]])
  t.same(await values(registry), [['a 200', 2], ['b 503', 1]], 'a second scrape adds nothing')
  count('a', 200)
  t.equal(tally.inc('b 503'), true)
  t.same(await values(registry), [['a 200', 3], ['b 503', 2]], 'later counts are added once')
  const text = await registry.metrics()
  t.match(text, /# TYPE test_requests_total counter/)
  t.match(text, /test_requests_total\{server="a",status="200"\} 3/)
})
