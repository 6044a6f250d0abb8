// RedisStore: when the subscriber connection is killed, it reconnects by itself, resubscribes and
// calls onResync again (messages may have been lost), and events flow again afterwards.
import t from 'tap'
import { startRedis } from '../helpers/redis-server.ts'
import { redisStore } from '../helpers/stores.ts'
import { EventRecorder, keyRecord, newUser, pollUntil } from './store-contract.ts'

const redis = await startRedis()
t.teardown(() => redis.stop())

t.test('CLIENT KILL TYPE pubsub → reconnect, onResync, events again', async t => {
  const store = await redisStore(t, redis)
  const rec = new EventRecorder()
  const unsubscribe = store.subscribe(rec)
  t.teardown(unsubscribe)
  await rec.until('the first onResync', () => rec.resyncs === 1)
  t.ok(store.isSubscribed())

  for (let round = 2; round <= 3; round++) {
    const killed = await redis.client().client('KILL', 'TYPE', 'pubsub')
    t.equal(killed, 1, 'exactly our subscriber connection was killed')
    const lostAt = Date.now()
    await rec.until(`onResync #${round} after the kill`, () => rec.resyncs === round, 5000)
    t.ok(store.isSubscribed(), 'subscribed again')
    t.comment(`resubscribed ${Date.now() - lostAt} ms after the kill`)
  }

  const owner = await store.createUser(newUser())
  const key = keyRecord(owner.id)
  await store.createKey(key)
  await store.deleteKey(key.id)
  await rec.event(e => e.type === 'key' && e.keyId === key.id, 'the key event on the new subscription')
  t.equal(rec.events.length, 1, 'delivered once')
})

t.test('isSubscribed is false until the subscription is confirmed and after unsubscribe', async t => {
  const store = await redisStore(t, redis)
  t.equal(store.isSubscribed(), false, 'nothing subscribed yet')
  const rec = new EventRecorder()
  const unsubscribe = store.subscribe(rec)
  await rec.until('onResync', () => rec.resyncs === 1)
  t.equal(store.isSubscribed(), true)
  unsubscribe()
  t.equal(store.isSubscribed(), false, 'the last listener left: the subscriber connection is closed')
  await pollUntil('the server to drop the subscriber connection',
    async () => !String(await redis.client().call('CLIENT', 'LIST', 'TYPE', 'pubsub')).includes('mcpgate-subscriber'))
  t.pass('no subscriber connection left on the server')
})
