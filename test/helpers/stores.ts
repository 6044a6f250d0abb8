// Fresh, isolated stores for tests: a SQLite file in a temp dir, or a unique key prefix on a real
// redis-server. Each is closed (and its files removed) in the calling test's teardown.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import type { Clock } from '../../core/clock.ts'
import { randomBase62 } from '../../core/key-format.ts'
import { emailIndexOf } from '../../core/store/common.ts'
import { identityDigest, RedisStore } from '../../core/store/redis.ts'
import { SqliteStore } from '../../core/store/sqlite.ts'
import { encodeKeyCursor, type ApiKeyRecord, type KeyStore, type User } from '../../core/store/store.ts'
import { startRedis, type RedisHandle } from './redis-server.ts'

export interface TestStoreOptions {
  clock?: Clock
}

/** A temp directory removed in t's teardown. */
export function tempDir (t: Test, prefix = 'mcpgate-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A SqliteStore on a new file (in a not-yet-existing subdirectory, as a real deployment may be). */
export async function sqliteStore (t: Test, opts: TestStoreOptions & { pollMs?: number, path?: string } = {}): Promise<SqliteStore> {
  const path = opts.path ?? join(tempDir(t, 'mcpgate-sqlite-'), 'data', 'mcpgate.db')
  const store = new SqliteStore({ path, clock: opts.clock, pollMs: opts.pollMs })
  t.teardown(() => store.close())
  return store
}

const serversByTest = new WeakMap<Test, Promise<RedisHandle>>()

/** One redis-server per test object (e.g. pass the file's root `t`), stopped in its teardown. */
export function testRedis (t: Test): Promise<RedisHandle> {
  let server = serversByTest.get(t)
  if (server === undefined) {
    server = startRedis()
    serversByTest.set(t, server)
    const started = server
    t.teardown(async () => (await started).stop())
  }
  return server
}

/**
 * A RedisStore with a unique key prefix, connected before it is returned. Without `redis`, uses
 * (and starts on first use) the redis-server of this `t`; share one across subtests by passing it.
 */
export async function redisStore (
  t: Test,
  redis?: RedisHandle,
  opts: TestStoreOptions & { prefix?: string, commandTimeoutMs?: number, connectTimeoutMs?: number, url?: string } = {}
): Promise<RedisStore> {
  const server = redis ?? await testRedis(t)
  const store = new RedisStore({
    url: opts.url ?? server.url,
    prefix: opts.prefix ?? `test-${randomBase62(8)}:`,
    commandTimeoutMs: opts.commandTimeoutMs,
    connectTimeoutMs: opts.connectTimeoutMs,
    clock: opts.clock
  })
  t.teardown(() => store.close())
  await store.ping()
  return store
}

/**
 * SCANs everything under the store's prefix and asserts it is exactly the data of these users and
 * keys: their hashes, the email and identity indexes, and the users/keys/uk zsets with exactly their members.
 * Any orphan (a hash without index entry, a member without hash) fails.
 */
/** Keys of the audit trail, under the store's prefix (core/store/redis.ts). */
const AUDIT_KEY = /^(audit$|ab:|al:|au:)/

export async function assertRedisHolds (t: Test, redis: RedisHandle, store: KeyStore, expected: { userIds: string[], keyIds: string[] }): Promise<void> {
  if (!(store instanceof RedisStore)) throw new TypeError('assertRedisHolds: expected a RedisStore')
  const client = redis.client()
  const p = store.prefix
  const actual: string[] = []
  let cursor = '0'
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${p}*`, 'COUNT', 1000)
    // The audit trail (its stream, batch ids, per-key and per-user usage; on by default, written
    // a flush after the requests) is not users and keys: its own tests check it.
    actual.push(...keys.filter(k => !AUDIT_KEY.test(k.slice(p.length))))
    cursor = next
  } while (cursor !== '0')

  // What must exist, derived through the store's public API.
  const want = new Set<string>()
  const zsets = new Map<string, string[]>()
  const add = (zset: string, member: string): void => { zsets.set(zset, [...(zsets.get(zset) ?? []), member]) }
  for (const id of expected.userIds) {
    const user: User | null = await store.getUser(id)
    if (user === null) { t.fail(`expected user ${id} is missing`); continue }
    const emailKey: string = `${p}email:${emailIndexOf(user)}`
    want.add(`${p}u:${id}`)
    want.add(emailKey)
    t.equal(await client.get(emailKey), id, 'the email index points at its user')
    if (user.identity !== undefined) {
      const identityKey: string = `${p}oidc:${identityDigest(user.identity)}`
      want.add(identityKey)
      t.equal(await client.get(identityKey), id, 'the identity index points at its user')
    }
    add(`${p}users`, encodeKeyCursor(user.createdAt, id))
  }
  for (const id of expected.keyIds) {
    const key: ApiKeyRecord | null = await store.getKey(id)
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
