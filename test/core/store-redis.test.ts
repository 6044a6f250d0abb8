// The KeyStore contract against RedisStore on a real redis-server, plus a SCAN of what is
// actually in Redis after each write: no orphan hashes, index entries or zset members.
import t from 'tap'
import { startRedis } from '../helpers/redis-server.ts'
import { assertRedisHolds, redisStore } from '../helpers/stores.ts'
import { storeContract } from './store-contract.ts'

const redis = await startRedis()
t.teardown(() => redis.stop())

storeContract(t, (t, opts) => redisStore(t, redis, opts), {
  assertStorage: (t, store, expected) => assertRedisHolds(t, redis, store, expected)
})
