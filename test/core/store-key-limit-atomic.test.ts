// KeyStore.createKey with limits.maxKeysPerUser: the count and the insert are one atomic step in
// both stores, so 20 concurrent creates for one user with a limit of 5 create exactly 5 keys.
import t, { type Test } from 'tap'
import { errors } from '../../core/errors.ts'
import type { ApiKeyRecord, KeyStore } from '../../core/store/store.ts'
import { startRedis } from '../helpers/redis-server.ts'
import { assertRedisHolds, redisStore, sqliteStore } from '../helpers/stores.ts'
import { keyRecord, newUser } from './store-contract.ts'

const MAX = 5
const CALLS = 20

const redis = await startRedis()
t.teardown(() => redis.stop())

/**
 * Two stores on one backend, as two admin replicas (Redis) or the server and the CLI (SQLite) are.
 * On Redis their commands really interleave on two connections; better-sqlite3 is synchronous, so
 * in one process the two SQLite connections take turns and the IMMEDIATE transaction is what
 * another process would meet.
 */
const kinds: Record<string, (t: Test) => Promise<[KeyStore, KeyStore]>> = {
  redis: async t => {
    const a = await redisStore(t, redis)
    return [a, await redisStore(t, redis, { prefix: a.prefix })]
  },
  sqlite: async t => {
    const a = await sqliteStore(t)
    return [a, await sqliteStore(t, { path: a.path })]
  }
}

for (const [kind, open] of Object.entries(kinds)) {
  t.test(`${kind}: ${CALLS} concurrent creates with a limit of ${MAX} create exactly ${MAX}`, async t => {
    const [a, b] = await open(t)
    const owner = await a.createUser(newUser())
    const other = await a.createUser(newUser())
    const otherKey = keyRecord(other.id)
    await a.createKey(otherKey, { maxKeysPerUser: MAX })

    const records = Array.from({ length: CALLS }, (_, i) => keyRecord(owner.id, { createdAt: 1000 + i }))
    const results = await Promise.allSettled(records.map((r, i) => (i % 2 === 0 ? a : b).createKey(r, { maxKeysPerUser: MAX })))

    const created = records.filter((_, i) => results[i]?.status === 'fulfilled')
    const refusals = results.flatMap(r => r.status === 'rejected' ? [r.reason as unknown] : [])
    t.equal(created.length, MAX, `exactly ${MAX} resolve`)
    t.equal(refusals.length, CALLS - MAX, `${CALLS - MAX} reject`)
    t.ok(refusals.every(e => e instanceof errors.KeyLimitReached), 'every rejection is KeyLimitReached')
    t.ok(refusals.every(e => (e as { code?: string }).code === 'MCPGATE_KEY_LIMIT_REACHED'), 'with code MCPGATE_KEY_LIMIT_REACHED')
    t.ok(refusals.every(e => (e as { statusCode?: number }).statusCode === 409), 'and status 409')
    t.match((refusals[0] as Error).message, /maximum of 5 API keys/, 'the message names the limit')

    t.equal(await a.countKeys(owner.id), MAX, `countKeys is ${MAX}`)
    t.equal(await b.countKeys(owner.id), MAX, 'from either connection')
    const listed = (await a.listKeys({ limit: 100, userId: owner.id })).items.map(k => k.id).sort()
    t.same(listed, created.map(r => r.id).sort(), 'the stored keys are exactly the ones that resolved')
    for (const r of records.filter(r => !created.includes(r))) {
      if (await a.getKey(r.id) !== null) t.fail(`refused key ${r.id} was stored`)
    }

    const more = keyRecord(other.id)
    await t.resolves(b.createKey(more, { maxKeysPerUser: MAX }), 'another user is unaffected')
    t.equal(await a.countKeys(other.id), 2)
    if (kind === 'redis') {
      await assertRedisHolds(t, redis, a, { userIds: [owner.id, other.id], keyIds: [...created.map(r => r.id), otherKey.id, more.id] })
    }
  })

  t.test(`${kind}: the limit applies only to calls that pass it`, async t => {
    const [a] = await open(t)
    const owner = await a.createUser(newUser())
    const first: ApiKeyRecord = keyRecord(owner.id)
    await a.createKey(first, { maxKeysPerUser: 1 })
    await t.rejects(a.createKey(keyRecord(owner.id), { maxKeysPerUser: 1 }), errors.KeyLimitReached, 'at the limit')
    await t.rejects(a.createKey(keyRecord(owner.id), { maxKeysPerUser: 0 }), errors.KeyLimitReached, 'a limit of 0 refuses every key')
    await t.resolves(a.createKey(keyRecord(owner.id)), 'no limits: the existing contract, no count')
    await t.resolves(a.createKey(keyRecord(owner.id), {}), 'an empty limits object: no limit')
    t.equal(await a.countKeys(owner.id), 3)
    await t.rejects(a.createKey(keyRecord(owner.id), { maxKeysPerUser: 2.5 }), { name: 'TypeError', message: /limits\.maxKeysPerUser/ }, 'a bad limit is a TypeError naming the option')
    await t.rejects(a.createKey(keyRecord(owner.id), { maxKeysPerUser: -1 }), TypeError)
    await t.rejects(a.createKey(keyRecord('nosuchuser'), { maxKeysPerUser: 5 }), { message: /does not exist/ }, 'a missing owner is still refused as such')
    t.equal(await a.countKeys(owner.id), 3, 'nothing written by the refused calls')
  })
}
