// Key rotation with an overlap, end to end: three gateway replicas and the admin API on one Redis,
// one injected clock. POST /api/api-keys/:id/rotate gives a new secret for the same key id; during
// the overlap both secrets work on every replica (SDK clients switch mid-overlap, the old one's
// stream stays open); at the overlap's end the old secret is refused everywhere and its open stream
// ends; rotating twice inside an overlap keeps only the newest previous secret; the audit trail
// says which secret generation each call used.
import t from 'tap'
import { ManualClock } from '../../core/clock.ts'
import { ADMIN_TOKEN, startAdmin, testConfig as adminConfig } from '../helpers/admin.ts'
import { connectStreamable, startGateway, testConfig, type TestGateway } from '../helpers/gateway.ts'
import { initSession, openStream } from '../helpers/mcp-raw.ts'
import { startMcpUpstream } from '../helpers/mcp-upstream.ts'
import { redisStore, testRedis } from '../helpers/stores.ts'

const PREFIX = 'rotation:'

t.test('rotation: both secrets during the overlap, the old one refused everywhere after', async t => {
  const clock = new ManualClock(Date.now())
  const redis = await testRedis(t)
  const upstream = await startMcpUpstream(t)
  const servers = [{ id: 'up', url: upstream.mcpUrl }]
  const replicas: TestGateway[] = []
  for (let i = 0; i < 3; i++) {
    replicas.push(await startGateway(t, { store: await redisStore(t, redis, { prefix: PREFIX, clock }), clock, config: testConfig({ gateway: { shutdownGraceMs: 100 }, servers }) }))
  }
  const adminStore = await redisStore(t, redis, { prefix: PREFIX, clock })
  const admin = await startAdmin(t, { store: adminStore, clock, config: adminConfig({ servers }) })
  const user = await admin.service.createUser({ email: 'ci@example.com', name: 'CI' })
  const created = await admin.service.createKey(user.id, { name: 'deploy', mcpServerIds: ['up'] })
  const oldKey = created.key
  const keyId = created.record.id

  const status = async (r: TestGateway, key: string): Promise<number> => {
    const res = await fetch(r.mcpUrl('up'), {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } })
    })
    await res.arrayBuffer()
    return res.status
  }
  /** Every replica answers `want` (pub/sub reaches them asynchronously: each asked until it does, bounded). */
  const everywhere = async (key: string, want: number): Promise<number[]> => Promise.all(replicas.map(async r => {
    let s = 0
    for (let i = 0; i < 200 && s !== want; i++) s = await status(r, key)
    return s
  }))

  t.same(await everywhere(oldKey, 200), [200, 200, 200], 'the original key works everywhere')
  // An SDK client and an open stream with the old secret, on replica 1.
  const old = await connectStreamable(t, replicas[0]?.mcpUrl('up') ?? '', oldKey)
  const session = await initSession(replicas[0]?.mcpUrl('up') ?? '', oldKey)
  const stream = await openStream(replicas[0]?.mcpUrl('up') ?? '', { method: 'GET', headers: { ...session.headers, accept: 'text/event-stream' } })
  t.equal(stream.status, 200)

  const rotated = await admin.request({ method: 'POST', url: `/api/admin-api-keys/${keyId}/rotate`, token: ADMIN_TOKEN, body: { overlapSeconds: 600 } })
  t.equal(rotated.statusCode, 200)
  const body = rotated.json() as { id: string, key: string, secretGeneration: number, rotatedAt: string, previousSecretValidUntil: string }
  t.equal(body.id, keyId, 'the same key id')
  t.not(body.key, oldKey, 'a new secret')
  t.ok(body.key.includes(`-${keyId}-`), 'the new key carries the same id')
  t.equal(body.secretGeneration, 1)
  t.equal(body.previousSecretValidUntil, new Date(clock.now() + 600_000).toISOString(), 'the overlap\'s end')
  const newKey = body.key

  t.same(await everywhere(newKey, 200), [200, 200, 200], 'the new key works everywhere')
  t.same(await everywhere(oldKey, 200), [200, 200, 200], 'the old key too, during the overlap')
  t.same((await old.client.callTool({ name: 'echo', arguments: { text: 'old' } })).content, [{ type: 'text', text: 'old' }], 'the SDK client with the old key keeps working')
  const fresh = await connectStreamable(t, replicas[2]?.mcpUrl('up') ?? '', newKey)
  t.same((await fresh.client.callTool({ name: 'echo', arguments: { text: 'new' } })).content, [{ type: 'text', text: 'new' }], 'a client switched to the new key')
  t.equal(await stream.ended(100), 'timeout', 'the old secret\'s stream stays open during the overlap')

  clock.advance(600_000)
  t.equal(await stream.ended(), 'end', 'at the overlap\'s end the old secret\'s stream ends')
  t.same(await everywhere(oldKey, 401), [401, 401, 401], 'the old key is refused everywhere after the overlap')
  t.same(await everywhere(newKey, 200), [200, 200, 200], 'the new one still works')

  // Twice inside one overlap: only the newest previous secret is kept.
  const second = (await admin.request({ method: 'POST', url: `/api/admin-api-keys/${keyId}/rotate`, token: ADMIN_TOKEN, body: { overlapSeconds: 600 } })).json() as { key: string }
  const third = (await admin.request({ method: 'POST', url: `/api/admin-api-keys/${keyId}/rotate`, token: ADMIN_TOKEN, body: { overlapSeconds: 600 } })).json() as { key: string }
  t.same(await everywhere(newKey, 401), [401, 401, 401], 'two rotations later the first new key is gone at once')
  t.same(await everywhere(second.key, 200), [200, 200, 200], 'the newest previous secret works in its overlap')
  t.same(await everywhere(third.key, 200), [200, 200, 200], 'and the current one')

  for (const r of replicas) await r.app.mcpgate.audit?.flush()
  const events = (await adminStore.listAudit({ limit: 1000, keyId })).items
  const generations = new Set(events.filter(e => e.outcome === 'allowed').map(e => e.secretGeneration))
  t.same([...generations].sort(), [0, 1, 2, 3], 'the audit trail names the secret generation each call used')
})
