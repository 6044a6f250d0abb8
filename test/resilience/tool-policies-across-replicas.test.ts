// Per-tool permissions follow the owner's current state on every replica: three gateways on one
// redis-server; a group change (through a fourth store connection, as the admin API makes it)
// changes the tools each replica lists on its next request, and so does a config reload that
// changes a server's policies. The key itself is unchanged throughout.
import t from 'tap'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { createTestKey, createTestUser, startGateway, testConfig, type TestGateway, type TestServer } from '../helpers/gateway.ts'
import { startCatalogUpstream } from '../helpers/mcp-catalog-upstream.ts'
import { redisStore, testRedis } from '../helpers/stores.ts'

t.test('group changes and policy reloads apply on the next request, on every replica', async t => {
  const redis = await testRedis(t)
  const upstream = await startCatalogUpstream(t)
  const v1: TestServer['policies'] = [{ groups: ['support'], tools: ['search_*'] }, { groups: ['writers'], tools: ['create_issue'] }]
  const v2: TestServer['policies'] = [{ groups: ['support'], tools: ['get_*'] }]
  const config = (policies: TestServer['policies']) => testConfig({ gateway: { shutdownGraceMs: 100 }, servers: [{ id: 'catalog', url: upstream.mcpUrl, policies }] })
  const replicas: TestGateway[] = []
  for (let i = 0; i < 3; i++) replicas.push(await startGateway(t, { store: await redisStore(t, redis, { prefix: 'policies:' }), config: config(v1) }))
  const admin = await redisStore(t, redis, { prefix: 'policies:' })
  const user = await createTestUser(admin, { groups: ['support'] })
  const key = await createTestKey(admin, { user })

  const clients = await Promise.all(replicas.map(async r => {
    const client = new Client({ name: 'policies', version: '1' })
    await client.connect(new StreamableHTTPClientTransport(new URL(r.mcpUrl('catalog')), { requestInit: { headers: { authorization: `Bearer ${key.key}` } } }))
    t.teardown(() => client.close())
    return client
  }))
  const lists = async () => Promise.all(clients.map(async c => (await c.listTools()).tools.map(x => x.name).sort().join(',')))

  t.same(await lists(), Array(3).fill('search_code,search_issues'), 'the support policy on every replica')

  await admin.updateUser(user.id, { groups: ['support', 'writers'] })
  // The invalidation reaches each replica asynchronously: each is asked until it answers the new list (bounded).
  for (const [i, c] of clients.entries()) {
    let names = ''
    for (let tries = 0; tries < 200 && names !== 'create_issue,search_code,search_issues'; tries++) {
      names = (await c.listTools()).tools.map(x => x.name).sort().join(',')
    }
    t.equal(names, 'create_issue,search_code,search_issues', `replica ${i + 1}: the writers policy joined after the group change`)
  }

  for (const r of replicas) r.app.mcpgate.reload(config(v2))
  t.same(await lists(), Array(3).fill('get_issue,get_repo'), 'a reload that changes the policies: the next request on every replica')
})
