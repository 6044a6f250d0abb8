// RedisStore under an outage: with redis-server killed or hung, every method rejects with
// StoreUnavailableError within commandTimeout plus a margin (no hang, no offline queue); after a
// restart the same store instance works again and its subscribers resync.
import t, { type Test } from 'tap'
import { StoreUnavailableError } from '../../core/errors.ts'
import { newKeyId } from '../../core/key-format.ts'
import type { KeyStore } from '../../core/store/store.ts'
import { startRedis } from '../helpers/redis-server.ts'
import { redisStore } from '../helpers/stores.ts'
import { EventRecorder, keyRecord, newUser, pollUntil } from './store-contract.ts'

const COMMAND_TIMEOUT_MS = 250
const BOUND_MS = 1500

function everyMethod (store: KeyStore, userId: string, keyId: string): Record<string, () => Promise<unknown>> {
  return {
    ping: () => store.ping(),
    createUser: () => store.createUser(newUser()),
    getUser: () => store.getUser(userId),
    getUserByEmail: () => store.getUserByEmail('someone@example.com'),
    listUsers: () => store.listUsers({ limit: 10 }),
    updateUser: () => store.updateUser(userId, { name: 'x' }),
    deleteUser: () => store.deleteUser(userId),
    createKey: () => store.createKey(keyRecord(userId)),
    getKey: () => store.getKey(keyId),
    getKeyWithOwner: () => store.getKeyWithOwner(keyId),
    listKeys: () => store.listKeys({ limit: 10, userId }),
    countKeys: () => store.countKeys(userId),
    deleteKey: () => store.deleteKey(keyId),
    recordLastUsed: () => store.recordLastUsed(new Map([[keyId, Date.now()]])),
    publish: () => store.publish({ type: 'all' })
  }
}

/** All methods at once (as concurrent requests would call them), each timed on its own. */
async function assertAllFailFast (t: Test, store: KeyStore, userId: string, keyId: string): Promise<void> {
  const outcomes = await Promise.all(Object.entries(everyMethod(store, userId, keyId)).map(async ([name, call]) => {
    const started = performance.now()
    const err = await call().then(() => null, (e: unknown) => e)
    return { name, err, elapsed: performance.now() - started }
  }))
  for (const { name, err, elapsed } of outcomes) {
    t.ok(err instanceof StoreUnavailableError, `${name} rejects with StoreUnavailableError`)
    t.ok(elapsed < BOUND_MS, `${name} fails in ${elapsed.toFixed(0)} ms (< ${BOUND_MS})`)
  }
}

t.test('killed redis: every method fails fast; after restart the same store works', async t => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const store = await redisStore(t, redis, { commandTimeoutMs: COMMAND_TIMEOUT_MS })
  const rec = new EventRecorder()
  t.teardown(store.subscribe(rec))
  await rec.until('onResync', () => rec.resyncs === 1)
  const user = await store.createUser(newUser())
  const key = keyRecord(user.id)
  await store.createKey(key)

  await redis.kill()
  await assertAllFailFast(t, store, user.id, key.id)
  await pollUntil('isSubscribed() to turn false', () => !store.isSubscribed(), 2000)
  t.pass('not subscribed while redis is down')

  await redis.restart()
  await pollUntil('the store to reconnect', () => store.ping().then(() => true, () => false), 5000)
  await rec.until('onResync after the restart', () => rec.resyncs === 2, 5000)
  t.ok(store.isSubscribed(), 'subscribed again')
  // No persistence in the test server: the restarted redis is empty, so write anew.
  const again = await store.createUser(newUser())
  t.same(await store.getUser(again.id), again, 'reads and writes work again on the same instance')
  const fresh = keyRecord(again.id)
  await store.createKey(fresh)
  await store.deleteKey(fresh.id)
  await rec.event(e => e.type === 'key' && e.keyId === fresh.id, 'invalidation after the restart')
})

t.test('hung redis (SIGSTOP): every method times out within the bound; resume heals', async t => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const store = await redisStore(t, redis, { commandTimeoutMs: COMMAND_TIMEOUT_MS })
  const rec = new EventRecorder()
  t.teardown(store.subscribe(rec))
  await rec.until('onResync', () => rec.resyncs === 1)
  const user = await store.createUser(newUser())
  const keyId = newKeyId()

  redis.pause()
  t.teardown(() => redis.resume())
  // A timed-out write may still run once the server wakes up, so aim the writes elsewhere.
  await assertAllFailFast(t, store, 'nosuchuser', keyId)
  // The subscriber socket stays open to a hung server: only its heartbeat notices.
  await pollUntil('the subscriber heartbeat to notice the hang', () => !store.isSubscribed(), 5000)
  t.pass('isSubscribed() turns false while redis hangs')

  redis.resume()
  await pollUntil('the store to answer again', () => store.ping().then(() => true, () => false), 5000)
  t.same(await store.getUser(user.id), user, 'data intact after the hang')
  await rec.until('onResync after the hang', () => rec.resyncs === 2, 5000)
  t.ok(store.isSubscribed(), 'subscribed again')
})
