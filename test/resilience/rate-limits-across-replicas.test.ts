// Rate limits shared by replicas through Redis, without a store round trip per request (leases):
// N concurrent requests through one replica → exactly the limit passes; spread over three replicas
// → never more than the limit (what another replica leased and did not spend may go unused: at
// most a lease, here 1 token, per replica). With Redis frozen, each replica enforces its share
// (limit ÷ the replicas it saw) alone — no 429 storm, no unbounded traffic — and counts it.
import t from 'tap'
import { createTestKey, startGateway, testConfig, type TestGateway } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { redisStore, testRedis } from '../helpers/stores.ts'

t.test('shared limits: exact on a replica, never over across replicas, shares during an outage', async t => {
  const redis = await testRedis(t)
  const upstream = await startRawUpstream(t, (_req, res) => { res.end('{}') })
  const config = testConfig({ gateway: { shutdownGraceMs: 100 }, servers: [{ id: 'up', url: `${upstream.origin}/mcp` }] })
  const replicas: TestGateway[] = []
  for (let i = 0; i < 3; i++) replicas.push(await startGateway(t, { store: await redisStore(t, redis, { prefix: 'limits:', commandTimeoutMs: 100 }), config }))
  const admin = await redisStore(t, redis, { prefix: 'limits:' })
  const send = async (r: TestGateway, key: string): Promise<number> => {
    const res = await fetch(r.mcpUrl('up'), { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: '{}' })
    await res.arrayBuffer()
    return res.status
  }
  // Each key is verified (argon2) on its first request on a replica: warm the caches first, with a
  // key whose limit is not what is measured (the request still counts: the limits below leave room).
  const burst = async (key: string, n: number, pick: (i: number) => TestGateway): Promise<number> => {
    const statuses = await Promise.all(Array.from({ length: n }, async (_, i) => send(pick(i), key)))
    return statuses.filter(s => s === 200).length
  }

  const one = await createTestKey(admin, { limits: { requestsPerMinute: 30 } })
  t.equal(await burst(one.key, 100, () => replicas[0] as TestGateway), 30, '100 concurrent requests through one replica: exactly 30 pass')

  const spread = await createTestKey(admin, { limits: { requestsPerMinute: 30 } })
  const passed = await burst(spread.key, 120, i => replicas[i % 3] as TestGateway)
  t.ok(passed <= 30, `spread over three replicas: never more than the limit (${passed})`)
  t.ok(passed >= 28, `…and at most a lease per other replica unused (${passed})`)

  // Each replica announces itself (every 10 s; here once more, now that all three run): with Redis
  // frozen, each allows a third of the limit alone.
  for (const r of replicas) await r.app.mcpgate.limiter.announce()
  t.same(replicas.map(r => r.app.mcpgate.limiter.replicas), [3, 3, 3], 'each replica sees three')
  const outage = await createTestKey(admin, { limits: { requestsPerMinute: 30 } })
  for (const r of replicas) t.equal(await send(r, outage.key), 200, 'warm: the key is cached on every replica')
  redis.pause()
  t.teardown(() => { redis.resume() })
  const during = await burst(outage.key, 40, () => replicas[1] as TestGateway)
  t.ok(during >= 9 && during <= 10, `frozen Redis: one replica lets its share through (${during} of a limit of 30 over 3 replicas)`)
  t.ok((replicas[1]?.app.mcpgate.limiter.degraded ?? 0) > 0, 'and counts the requests it decided alone')
  redis.resume()
})
