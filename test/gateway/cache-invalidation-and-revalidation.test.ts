// The key cache: entries older than revalidateMs are revalidated by one store read (no argon2);
// invalidation events evict at once ({key} the key, {user} the user's state — their keys are then
// served only after one store read that rereads key and owner, never argon2 —, {all} everything);
// a resubscribe (messages may have been lost) marks everything stale.
import t from 'tap'
import { ManualClock } from '../../core/clock.ts'
import { createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { redisStore, sqliteStore, testRedis } from '../helpers/stores.ts'

async function poll (fn: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (!fn()) {
    if (Date.now() > deadline) return false
    await new Promise(resolve => setTimeout(resolve, 5))
  }
  return true
}

t.test('revalidation and events (SQLite)', async t => {
  const clock = new ManualClock()
  const upstream = await startRawUpstream(t, (_req, res) => { res.end('{}') })
  const store = await sqliteStore(t, { clock })
  const gw = await startGateway(t, {
    store,
    clock,
    config: testConfig({ gateway: { cache: { revalidateMs: 30_000 } }, servers: [{ id: 'up', url: `${upstream.origin}/mcp` }] })
  })
  const stats = gw.app.mcpgate.stats
  const send = async (key: string) => (await fetch(gw.mcpUrl('up'), { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: '{}' })).status
  const counts = () => ({ reads: stats.storeReads, argon2: stats.argon2Verifications })

  const a1 = await createTestKey(store, { clock })
  const a2 = await createTestKey(store, { clock, user: a1.user })
  const b = await createTestKey(store, { clock })
  for (const k of [a1, a2, b]) t.equal(await send(k.key), 200)
  t.same(counts(), { reads: 3, argon2: 3 }, 'three first uses')
  t.equal(await send(a1.key), 200)
  t.same(counts(), { reads: 3, argon2: 3 }, 'fresh cache hit: no I/O')

  clock.advance(30_000)
  t.equal(await send(a1.key), 200)
  t.same(counts(), { reads: 4, argon2: 3 }, 'aged entry: one store read, no argon2')
  t.equal(await send(a1.key), 200)
  t.same(counts(), { reads: 4, argon2: 3 }, 'fresh again')
  clock.set(clock.now() - 30_000) // keep a2 and b fresh for the checks below

  await store.publish({ type: 'key', keyId: a1.keyId })
  t.equal(await send(a1.key), 200)
  t.same(counts(), { reads: 5, argon2: 4 }, '{type:key}: evicted, verified again')

  await store.publish({ type: 'user', userId: a1.user.id })
  for (const k of [a1, a2, b]) t.equal(await send(k.key), 200)
  // a1's read brings the owner's current state back; a2 (unchanged, fresh) is then served with it.
  t.same(counts(), { reads: 6, argon2: 4 }, '{type:user}: one store read brings the owner back, no argon2; the other user untouched')

  await store.publish({ type: 'all' })
  for (const k of [a1, a2, b]) t.equal(await send(k.key), 200)
  t.same(counts(), { reads: 9, argon2: 7 }, '{type:all}: everything re-verified')
})

t.test('a resubscribe marks everything stale (Redis)', async t => {
  const upstream = await startRawUpstream(t, (_req, res) => { res.end('{}') })
  const redis = await testRedis(t)
  const store = await redisStore(t, redis)
  const gw = await startGateway(t, { store, config: testConfig({ servers: [{ id: 'up', url: `${upstream.origin}/mcp` }] }) })
  const stats = gw.app.mcpgate.stats
  const send = async (key: string) => (await fetch(gw.mcpUrl('up'), { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: '{}' })).status
  t.ok(await poll(() => store.isSubscribed(), 5000))
  const k = await createTestKey(store)
  t.equal(await send(k.key), 200)
  t.equal(await send(k.key), 200)
  const before = { reads: stats.storeReads, argon2: stats.argon2Verifications, epoch: gw.app.mcpgate.cache.epoch }

  // Drop the subscriber connection server-side: ioredis reconnects and resubscribes.
  await redis.client().client('KILL', 'TYPE', 'pubsub')
  t.ok(await poll(() => gw.app.mcpgate.cache.epoch > before.epoch && store.isSubscribed(), 5000), 'resynced')
  t.equal(await send(k.key), 200)
  t.same({ reads: stats.storeReads, argon2: stats.argon2Verifications },
    { reads: before.reads + 1, argon2: before.argon2 }, 'stale entry revalidated with one read, no argon2')
})
