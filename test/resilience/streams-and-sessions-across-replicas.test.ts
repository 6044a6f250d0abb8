// Three gateway replicas on one redis-server (each its own store connections, as separate
// processes would have): a key deleted through a fourth connection (the admin API's) ends that
// key's open streams on every replica; a session created through replica 1 is refused to another
// key on replica 2 and works for its own key on replicas 2 and 3 (the binding is in the store).
import t from 'tap'
import { createTestKey, startGateway, testConfig, type TestGateway } from '../helpers/gateway.ts'
import { initSession, MCP_ACCEPT, openStream } from '../helpers/mcp-raw.ts'
import { startMcpUpstream } from '../helpers/mcp-upstream.ts'
import { redisStore, testRedis } from '../helpers/stores.ts'

const PREFIX = 'replicas:'

t.test('streams end and sessions hold across replicas', async t => {
  const redis = await testRedis(t)
  const upstream = await startMcpUpstream(t)
  const config = testConfig({ gateway: { shutdownGraceMs: 100 }, servers: [{ id: 'up', url: upstream.mcpUrl }, { id: 'legacy', url: upstream.sseUrl }] })
  const replicas: TestGateway[] = []
  for (let i = 0; i < 3; i++) replicas.push(await startGateway(t, { store: await redisStore(t, redis, { prefix: PREFIX }), config }))
  const admin = await redisStore(t, redis, { prefix: PREFIX })
  const [r1, r2, r3] = replicas as [TestGateway, TestGateway, TestGateway]

  await t.test('a key deleted anywhere ends its streams on every replica', async t => {
    const key = await createTestKey(admin)
    const streams = await Promise.all(replicas.map(r => openStream(r.mcpUrl('legacy'), { method: 'GET', headers: { 'x-api-key': key.key, accept: 'text/event-stream' } })))
    await Promise.all(streams.map(s => s.waitFor(/event: endpoint/)))
    const deletedAt = performance.now()
    await admin.deleteKey(key.keyId)
    const lags = await Promise.all(streams.map(async s => {
      const how = await s.ended()
      return { how, ms: performance.now() - deletedAt }
    }))
    t.same(lags.map(l => l.how), ['end', 'end', 'end'], 'each replica ended its stream cleanly')
    t.ok(lags.every(l => l.ms < 1000), `within 1 s of the delete (${lags.map(l => l.ms.toFixed(1)).join(', ')} ms; bench/ measures the p99)`)
  })

  await t.test('a session is bound across replicas', async t => {
    const owner = await createTestKey(admin)
    const other = await createTestKey(admin)
    const session = await initSession(r1.mcpUrl('up'), owner.key)
    const list = (r: TestGateway, key: string) => fetch(r.mcpUrl('up'), {
      method: 'POST',
      headers: { ...session.headers, authorization: `Bearer ${key}`, accept: MCP_ACCEPT },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} })
    })
    const hijack = await list(r2, other.key)
    t.equal(hijack.status, 404, 'another key on replica 2: 404')
    t.equal(((await hijack.json()) as { error: { code: number } }).error.code, -32001, 'Session not found')
    for (const [name, r] of [['replica 2', r2], ['replica 3', r3]] as const) {
      const res = await list(r, owner.key)
      t.equal(res.status, 200, `the owner on ${name}: the binding came from the store`)
      t.match(await res.text(), /"echo"/)
    }
  })
})
