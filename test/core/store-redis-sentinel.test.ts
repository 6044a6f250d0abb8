// Redis Sentinel (store.url redis+sentinel://…): the URL form and its mistakes, and a real setup —
// a primary, its replica and one sentinel — through which the store finds the primary and, when
// the primary dies, follows the failover: the gateway keeps its cached keys, new keys verify
// against the promoted replica, and a revocation still reaches the gateway.
import t, { type Test } from 'tap'
import { ConfigError, parseConfigText } from '../../config/load.ts'
import { parseRedisTarget } from '../../core/store/redis-url.ts'
import { RedisStore } from '../../core/store/redis.ts'
import { randomBase62 } from '../../core/key-format.ts'
import { createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { until } from '../helpers/processes.ts'
import { startRedis, startSentinel, type RedisHandle, type SentinelHandle } from '../helpers/redis-server.ts'

/** A primary, its replica (in sync) and one sentinel watching them, all stopped in t's teardown. */
async function sentinelSetup (t: Test): Promise<{ primary: RedisHandle, replica: RedisHandle, sentinel: SentinelHandle }> {
  const primary = await startRedis()
  t.teardown(() => primary.stop())
  const replica = await startRedis({ args: ['--replicaof', '127.0.0.1', String(primary.port)] })
  t.teardown(() => replica.stop())
  // A write acknowledged by the replica: it is connected and in sync (WAIT blocks until then).
  await primary.client().set('sync-check', '1')
  t.equal(await primary.client().call('WAIT', '1', '10000'), 1, 'the replica follows the primary')
  const sentinel = await startSentinel(primary, { replicas: 1 })
  t.teardown(() => sentinel.stop())
  return { primary, replica, sentinel }
}

t.test('the redis+sentinel:// form', async t => {
  t.same(parseRedisTarget('redis+sentinel://10.0.0.1:26380,sentinel-b,[::1]:26381/main'), {
    kind: 'sentinel',
    sentinels: [{ host: '10.0.0.1', port: 26380 }, { host: 'sentinel-b', port: 26379 }, { host: '::1', port: 26381 }],
    name: 'main'
  }, 'hosts with and without ports (26379 by default), IPv6 in brackets')
  t.same(parseRedisTarget('redis+sentinel://:s%40cret@h1/main?sentinelPassword=p2&sentinelUsername=watch'), {
    kind: 'sentinel',
    sentinels: [{ host: 'h1', port: 26379 }],
    name: 'main',
    password: 's@cret',
    sentinelUsername: 'watch',
    sentinelPassword: 'p2'
  }, 'the primary\'s password from the user info (%-decoded), the sentinels\' from the query')
  t.same(parseRedisTarget('redis+sentinel://app:pw@h1/main'), { kind: 'sentinel', sentinels: [{ host: 'h1', port: 26379 }], name: 'main', username: 'app', password: 'pw' })
  t.same(parseRedisTarget('redis://127.0.0.1:6379'), { kind: 'url', url: 'redis://127.0.0.1:6379' }, 'the single-server forms are unchanged')
  t.same(parseRedisTarget('/run/redis.sock'), { kind: 'socket', path: '/run/redis.sock' })

  const mistakes: Array<[string, RegExp]> = [
    ['redis+sentinel://h1', /names no primary/],
    ['redis+sentinel://h1/', /names no primary/],
    ['redis+sentinel://h1:0/main', /sentinel "h1:0" is not host\[:port\]/],
    ['redis+sentinel://h1,,h2/main', /sentinel "" is not host\[:port\]/],
    ['redis+sentinel://h1/main?password=x', /unknown parameter "password"/],
    ['redis+sentinel://a:%zz@h1/main', /malformed %-escape/],
    ['http://h1/main', /must be redis:\/\/…, rediss:\/\/…, a unix socket path or redis\+sentinel:/]
  ]
  for (const [url, message] of mistakes) {
    const r = parseRedisTarget(url)
    t.ok('error' in r && message.test(r.error), `${url}: ${'error' in r ? r.error : 'accepted'}`)
  }
  const secret = parseRedisTarget('redis+sentinel://:hunter2@h1:99999/main')
  t.ok('error' in secret && !secret.error.includes('hunter2'), 'a message never repeats the password')

  const problems = (url: string): string[] => {
    try {
      parseConfigText(`store: { type: redis, url: "${url}" }\n`)
      return []
    } catch (err) {
      if (err instanceof ConfigError) return err.problems
      throw err
    }
  }
  t.match(problems('redis+sentinel://h1'), [/^store\.url: names no primary/], 'config load names the field')
  t.same(problems('redis+sentinel://h1,h2:26380/main'), [], 'and accepts the form')
  t.throws(() => new RedisStore({ url: 'redis+sentinel://h1' }), /RedisStore: options\.url names no primary/)
})

t.test('through Sentinel: the primary is found, and a failover is followed', async t => {
  const { primary, replica, sentinel } = await sentinelSetup(t)

  const prefix = `test-${randomBase62(8)}:`
  const open = (): RedisStore => {
    const store = new RedisStore({ url: sentinel.url, prefix })
    t.teardown(() => store.close())
    return store
  }
  const gatewayStore = open()
  const adminStore = open()
  await gatewayStore.ping()
  await adminStore.ping()
  const names = String(await primary.client().call('CLIENT', 'LIST'))
  t.match(names, /name=mcpgate-store/, 'the store connected to the primary the sentinel named')

  const upstream = await startRawUpstream(t, (_req, res) => { res.end('{}') })
  const gw = await startGateway(t, { store: gatewayStore, config: testConfig({ servers: [{ id: 'up', url: `${upstream.origin}/mcp` }] }) })
  const send = async (key: string): Promise<number> => {
    const res = await fetch(gw.mcpUrl('up'), { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: '{}' })
    await res.arrayBuffer()
    return res.status
  }
  const before = await createTestKey(adminStore)
  const revoked = await createTestKey(adminStore, { user: before.user })
  t.equal(await send(before.key), 200, 'a key created before the failover works')
  t.equal(await send(revoked.key), 200)
  // Both writes reached the replica before the primary goes (a failover keeps what was replicated).
  t.equal(await primary.client().call('WAIT', '1', '10000'), 1)

  // The gateway's subscription is re-established after the failover: count its resyncs.
  let resyncs = 0
  let resynced: () => void = () => {}
  const afterFailover = new Promise<void>(resolve => { resynced = resolve })
  gatewayStore.subscribe({ onEvent () {}, onResync () { if (++resyncs > 1) resynced() } })
  const { next } = await sentinel.watchSwitch()
  const killedAt = performance.now()
  await primary.kill()
  const switched = await next
  t.comment(`primary killed → replica promoted: ${(performance.now() - killedAt).toFixed(0)} ms (down-after-milliseconds 200)`)
  t.equal(switched, `${sentinel.name} 127.0.0.1 ${primary.port} 127.0.0.1 ${replica.port}`, 'the sentinel promoted the replica')
  t.equal(await send(before.key), 200, 'a cached key is served through the failover')
  await afterFailover
  t.pass('the invalidation subscription came back, on the new primary')

  // The command connection reconnects on its own schedule (at most 250 ms apart).
  await until('the store answering through the new primary', 10_000, () => adminStore.ping().then(() => true, () => false), 20)
  await until('the gateway\'s store answering through the new primary', 10_000, () => gatewayStore.ping().then(() => true, () => false), 20)
  t.comment(`primary killed → both stores answering again: ${(performance.now() - killedAt).toFixed(0)} ms`)
  const after = await createTestKey(adminStore, { user: before.user })
  t.equal(await replica.client().exists(`${prefix}k:${after.keyId}`), 1, 'a key created after the failover is on the promoted replica')
  t.equal(await send(after.key), 200, 'and verifies through the gateway')

  t.not(await adminStore.deleteKey(revoked.keyId), null, 'a key deleted after the failover')
  t.equal(await send(revoked.key), 401, 'is refused by the gateway (the invalidation came over the new primary)')
  t.equal(await send(before.key), 200, 'while the other keys keep working')
})

t.test('a planned failover (SENTINEL FAILOVER): the store moves to the new primary on +switch-master', async t => {
  const { primary, replica, sentinel } = await sentinelSetup(t)
  const store = new RedisStore({ url: sentinel.url, prefix: `test-${randomBase62(8)}:` })
  t.teardown(() => store.close())
  await store.ping()

  const { next } = await sentinel.watchSwitch()
  // The sentinel found the replica at start, but promotes it only once it has the replica's own
  // INFO (asked for every second or so): until then FAILOVER answers NOGOODSLAVE.
  await until('a replica the sentinel can promote', 10_000, () => sentinel.client().call('SENTINEL', 'FAILOVER', sentinel.name).then(
    () => true,
    (err: Error) => { if (err.message.startsWith('NOGOODSLAVE')) return false; throw err }), 50)
  t.equal(await next, `${sentinel.name} 127.0.0.1 ${primary.port} 127.0.0.1 ${replica.port}`, 'the replica was promoted')
  // The old primary still takes writes until the sentinels demote it (seconds later): anything
  // written there would be lost. The store left it on the event, for the new primary.
  const onNewPrimary = (): Promise<boolean> => replica.client().call('CLIENT', 'LIST').then(list => String(list).includes('name=mcpgate-store'))
  await until('the store connected to the new primary', 10_000, onNewPrimary, 20)
  t.notMatch(String(await primary.client().call('CLIENT', 'LIST')), /name=mcpgate-store/, 'and no longer to the old one')
  // Named during its handshake, ready a moment later.
  await until('the store answering', 10_000, () => store.ping().then(() => true, () => false), 20)
  const key = await createTestKey(store)
  t.equal(await replica.client().exists(`${store.prefix}k:${key.keyId}`), 1, 'a write after the switch lands on the new primary')
})
