// The KeyStore contract against RedisStore on a real redis-server, plus a SCAN of what is
// actually in Redis after each write: no orphan hashes, index entries or zset members.
import t from 'tap'
import { encodeKeyCursor } from '../../core/store/store.ts'
import { RedisStore } from '../../core/store/redis.ts'
import { startRedis } from '../helpers/redis-server.ts'
import { redisStore } from '../helpers/stores.ts'
import { storeContract } from './store-contract.ts'

const redis = await startRedis()
t.teardown(() => redis.stop())

storeContract(t, (t, opts) => redisStore(t, redis, opts), {
  async assertStorage (t, store, expected) {
    if (!(store instanceof RedisStore)) throw new TypeError('expected a RedisStore')
    const client = redis.client()
    const p = store.prefix
    const actual: string[] = []
    let cursor = '0'
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${p}*`, 'COUNT', 1000)
      actual.push(...keys)
      cursor = next
    } while (cursor !== '0')

    // What must exist, derived through the store's public API.
    const want = new Set<string>()
    const zsets = new Map<string, string[]>()
    const add = (zset: string, member: string): void => { zsets.set(zset, [...(zsets.get(zset) ?? []), member]) }
    for (const id of expected.userIds) {
      const user = await store.getUser(id)
      if (user === null) { t.fail(`expected user ${id} is missing`); continue }
      want.add(`${p}u:${id}`)
      want.add(`${p}email:${user.email.toLowerCase()}`)
      t.equal(await client.get(`${p}email:${user.email.toLowerCase()}`), id, 'email index points at its user')
      add(`${p}users`, encodeKeyCursor(user.createdAt, id))
    }
    for (const id of expected.keyIds) {
      const key = await store.getKey(id)
      if (key === null) { t.fail(`expected key ${id} is missing`); continue }
      want.add(`${p}k:${id}`)
      add(`${p}keys`, encodeKeyCursor(key.createdAt, id))
      add(`${p}uk:${key.userId}`, encodeKeyCursor(key.createdAt, id))
    }
    for (const zset of zsets.keys()) want.add(zset)

    t.same(actual.sort(), [...want].sort(), 'Redis holds exactly the expected keys (SCAN)')
    for (const [zset, members] of zsets) {
      t.same((await client.zrange(zset, 0, -1)).sort(), members.sort(), `${zset.slice(p.length)} has exactly the expected members`)
    }
  }
})
