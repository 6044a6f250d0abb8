// openStore picks the implementation the config names and passes its settings through; a
// RedisStore accepts redis:// URLs and unix socket paths, and refuses anything else by name.
import { join } from 'node:path'
import t from 'tap'
import type { Config } from '../../config/schema.ts'
import { openStore } from '../../core/store/open.ts'
import { RedisStore } from '../../core/store/redis.ts'
import { SqliteStore } from '../../core/store/sqlite.ts'
import { startRedis } from '../helpers/redis-server.ts'
import { tempDir } from '../helpers/stores.ts'
import { newUser } from './store-contract.ts'

const defaults: Config['store'] = {
  type: 'sqlite',
  path: './data/mcpgate.db',
  prefix: 'mcpgate:',
  commandTimeoutMs: 250,
  connectTimeoutMs: 1000,
  pollMs: 25,
  cacheKiB: 2048
}

t.test('sqlite: a file in a directory that does not exist yet', async t => {
  const path = join(tempDir(t), 'nested', 'dir', 'mcpgate.db')
  const store = openStore({ ...defaults, type: 'sqlite', path })
  t.teardown(() => store.close())
  t.ok(store instanceof SqliteStore, 'type sqlite → SqliteStore')
  t.ok(store instanceof SqliteStore, 'a SqliteStore')
  const user = await store.createUser(newUser())
  await store.close()
  const reopened = openStore({ ...defaults, type: 'sqlite', path })
  t.teardown(() => reopened.close())
  t.same(await reopened.getUser(user.id), user, 'data persists in the file across opens')
})

t.test('sqlite: the page cache is SQLite\'s 2 MiB by default (better-sqlite3 builds in 16 MB) and follows store.cacheKiB', async t => {
  const dir = tempDir(t)
  const byDefault = openStore({ ...defaults, path: join(dir, 'a.db') }) as SqliteStore
  t.teardown(() => byDefault.close())
  t.equal(byDefault.cacheKiB, 2048)
  const configured = openStore({ ...defaults, path: join(dir, 'b.db'), cacheKiB: 512 }) as SqliteStore
  t.teardown(() => configured.close())
  t.equal(configured.cacheKiB, 512)
  t.throws(() => new SqliteStore({ path: join(dir, 'c.db'), cacheKiB: -1 }), /options\.cacheKiB must be a non-negative integer/)
})

t.test('redis: TCP URL, unix socket path and unix:// URL reach the same server', async t => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const prefix = 'open-test:'
  const stores = [redis.url, redis.socketPath, `unix://${redis.socketPath}`].map(url => {
    const store = openStore({ ...defaults, type: 'redis', url, prefix })
    t.teardown(() => store.close())
    return store
  })
  for (const store of stores) {
    t.ok(store instanceof RedisStore, 'type redis → RedisStore')
    t.ok(store instanceof RedisStore, 'a RedisStore')
  }
  const [tcp, socket, socketUrl] = stores as [RedisStore, RedisStore, RedisStore]
  const user = await tcp.createUser(newUser())
  t.same(await socket.getUser(user.id), user, 'socket path sees the TCP write')
  t.same(await socketUrl.getUser(user.id), user, 'unix:// URL too')
  t.equal(await redis.client().exists(`${prefix}u:${user.id}`), 1, 'keys carry the configured prefix')
})

t.test('bad options are refused with a sentence naming the option', async t => {
  t.throws(() => openStore({ ...defaults, type: 'redis' }), /store\.url/)
  t.throws(() => new RedisStore({ url: 'http://localhost:6379' }), /options\.url/)
  t.throws(() => new RedisStore({ url: 'redis://127.0.0.1:1', commandTimeoutMs: 0 }), /commandTimeoutMs/)
  t.throws(() => new SqliteStore({ path: '' }), /options\.path/)
  t.throws(() => new SqliteStore({ path: join(tempDir(t), 'x.db'), pollMs: 0 }), /pollMs/)
})
