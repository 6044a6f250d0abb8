// RedisStore multi-key writes are atomic under races between connections (as between gateway
// replicas and the admin API): one winner per email, no key created for a deleted user, no key
// resurrected by lastUsedAt, and never an orphan hash or index entry left behind.
import t, { type Test } from 'tap'
import { StoreConflictError } from '../../core/errors.ts'
import type { RedisStore } from '../../core/store/redis.ts'
import type { ApiKeyRecord } from '../../core/store/store.ts'
import { startRedis } from '../helpers/redis-server.ts'
import { assertRedisHolds, redisStore } from '../helpers/stores.ts'
import { EventRecorder, keyRecord, newUser } from './store-contract.ts'

const redis = await startRedis()
t.teardown(() => redis.stop())

/** Two stores on separate connections sharing one prefix, so their commands really interleave. */
async function twoConnections (t: Test): Promise<{ a: RedisStore, b: RedisStore }> {
  const a = await redisStore(t, redis)
  const b = await redisStore(t, redis, { prefix: a.prefix })
  return { a, b }
}

t.test('50 racing createUser calls for one email (any case): exactly one wins', async t => {
  const { a, b } = await twoConnections(t)
  const emails = Array.from({ length: 50 }, (_, i) => i % 2 === 0 ? 'Race@Example.com' : 'race@EXAMPLE.com')
  const results = await Promise.allSettled(emails.map((email, i) => (i % 2 === 0 ? a : b).createUser(newUser({ email }))))
  const won = results.filter(r => r.status === 'fulfilled')
  const conflicts = results.filter(r => r.status === 'rejected' && r.reason instanceof StoreConflictError)
  t.equal(won.length, 1, 'one user created')
  t.equal(conflicts.length, 49, 'every other call is a StoreConflictError')
  const winner = (won[0] as PromiseFulfilledResult<{ id: string }>).value
  await assertRedisHolds(t, redis, a, { userIds: [winner.id], keyIds: [] })
})

t.test('deleteUser racing createKey and recordLastUsed leaves no key of the deleted user', async t => {
  const { a, b } = await twoConnections(t)
  const doomed = await a.createUser(newUser())
  const survivor = await a.createUser(newUser())
  const survivorKey = keyRecord(survivor.id)
  await a.createKey(survivorKey)
  const records = Array.from({ length: 100 }, (_, i) => keyRecord(doomed.id, { createdAt: 1000 + i }))

  const outcomes: string[] = []
  const create = (r: ApiKeyRecord): Promise<void> => a.createKey(r).then(() => { outcomes.push('created') }, () => { outcomes.push('refused') })
  const touch = (r: ApiKeyRecord): Promise<void> => a.recordLastUsed(new Map([[r.id, 5000]]))
  let deleted: Promise<boolean> | undefined
  // Ten batches on connection A; the delete goes out on connection B together with the sixth.
  for (let batch = 0; batch < 10; batch++) {
    const slice = records.slice(batch * 10, batch * 10 + 10)
    const work: Array<Promise<unknown>> = [...slice.map(create), ...slice.map(touch)]
    if (batch === 5) {
      deleted = b.deleteUser(doomed.id)
      work.push(deleted)
    }
    await Promise.all(work)
  }
  t.equal(await deleted, true)
  const created = outcomes.filter(o => o === 'created').length
  t.comment(`${created} keys were created before the delete, ${100 - created} refused after`)
  t.ok(created >= 50, 'keys created before the delete existed')
  t.ok(100 - created >= 40, 'createKey after the delete is refused')

  for (const r of records) if (await a.getKey(r.id) !== null) t.fail(`key ${r.id} of the deleted user survived`)
  t.equal(await a.countKeys(doomed.id), 0)
  await assertRedisHolds(t, redis, a, { userIds: [survivor.id], keyIds: [survivorKey.id] })
})

t.test('deleteKey racing recordLastUsed never resurrects a key', async t => {
  const { a, b } = await twoConnections(t)
  const owner = await a.createUser(newUser())
  const records: ApiKeyRecord[] = Array.from({ length: 100 }, (_, i) => keyRecord(owner.id, { createdAt: i }))
  await Promise.all(records.map(r => a.createKey(r)))
  const work: Array<Promise<unknown>> = []
  for (const r of records) {
    work.push(a.recordLastUsed(new Map([[r.id, 1]])))
    work.push(b.deleteKey(r.id))
    work.push(a.recordLastUsed(new Map([[r.id, 2]])))
  }
  await Promise.all(work)
  t.equal(await a.countKeys(owner.id), 0)
  await assertRedisHolds(t, redis, a, { userIds: [owner.id], keyIds: [] })
})

t.test('racing deleteKey calls: exactly one returns the record and publishes', async t => {
  const { a, b } = await twoConnections(t)
  const rec = new EventRecorder()
  t.teardown(a.subscribe(rec))
  await rec.until('onResync', () => rec.resyncs === 1)
  const owner = await a.createUser(newUser())
  const record = keyRecord(owner.id)
  await a.createKey(record)
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).deleteKey(record.id)))
  t.equal(results.filter(r => r !== null).length, 1, 'one delete found it')
  t.same(results.find(r => r !== null), record)
  // Pub/sub keeps order: once the marker is here, any duplicate event would be too.
  await b.publish({ type: 'all' })
  await rec.event(e => e.type === 'all', 'the marker')
  t.same(rec.events, [{ type: 'key', keyId: record.id }, { type: 'all' }], 'one key event')
  await assertRedisHolds(t, redis, a, { userIds: [owner.id], keyIds: [] })
})
