// Invalidation messages lost while the gateway's subscriber is gone: a key deleted then is still
// refused, within gateway.cache.revalidateMs, by the revalidation of cached entries (a resubscribe
// marks everything stale; without one, entries older than the TTL are re-read). The subscriber
// comes back by itself (readyz 200 again) — nothing is restarted.
// Two ways to lose messages on a real redis-server and a real `mcpgate gateway` process:
//   1. CLIENT KILL TYPE pubsub just before the delete (the subscriber reconnects, resyncs);
//   2. an ACL that refuses the gateway's Redis user its channels for a while: the subscriber is
//      disconnected and cannot resubscribe, so only the TTL can catch the deletion.
import t from 'tap'
import { ADMIN_TOKEN, startAdmin, testConfig } from '../helpers/admin.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { redisStore, testRedis } from '../helpers/stores.ts'
import { FAST_HASHING, request, sendMcp, startMcpgate, until, waitReady, writeConfig, type Reply } from '../helpers/processes.ts'

const REVALIDATE_MS = 1500
/** Scheduling and one store read on a loaded 2-core machine. */
const MARGIN_MS = 300

t.test('lost invalidations are caught by revalidation', async t => {
  const redis = await testRedis(t)
  const inspector = redis.client()
  // The admin API writes as its own Redis user, so that channel ACLs can cut off only the gateway.
  await inspector.call('ACL', 'SETUSER', 'mcpadmin', 'on', '>admin-secret', '~*', '&*', '+@all')
  t.teardown(() => inspector.call('ACL', 'SETUSER', 'default', 'allchannels').catch(() => {}))
  const prefix = 'lost:'
  const channel = `${prefix}invalidate`
  const upstream = await startRawUpstream(t, (_req, res) => { res.end('{}') })
  const servers = [{ id: 'alpha', url: `${upstream.origin}/mcp` }]

  const gateway = await startMcpgate(t, 'gateway', writeConfig(t, {
    gateway: { host: '127.0.0.1', port: 0, cache: { revalidateMs: REVALIDATE_MS }, shutdownGraceMs: 1000 },
    store: { type: 'redis', url: redis.url, prefix },
    hashing: FAST_HASHING,
    log: { level: 'error', accessLog: false },
    servers
  }), { probe: true })
  const adminStore = await redisStore(t, redis, { prefix, url: `redis://mcpadmin:admin-secret@127.0.0.1:${redis.port}` })
  const admin = await startAdmin(t, { store: adminStore, config: testConfig({ servers }) })
  await waitReady(gateway.url)
  const user = (await admin.request({ method: 'POST', url: '/api/users', token: ADMIN_TOKEN, body: { email: 'lost@example.com' } })).json<{ id: string }>()

  const newKey = async (): Promise<{ id: string, key: string }> => {
    const res = await admin.request({ method: 'POST', url: `/api/users/${user.id}/api-keys`, token: ADMIN_TOKEN, body: { name: 'k', mcpServerIds: ['*'] } })
    return res.json()
  }
  const deleteKey = async (id: string): Promise<void> => {
    const res = await admin.request({ method: 'DELETE', url: `/api/admin-api-keys/${id}`, token: ADMIN_TOKEN })
    if (res.statusCode !== 204) throw new Error(`delete: ${res.statusCode}`)
  }
  const subscribers = async (): Promise<number> => {
    const [, n] = await inspector.call('PUBSUB', 'NUMSUB', channel) as [string, number]
    return n
  }
  const readyz = async (): Promise<number> => (await request(`${gateway.url}/readyz`)).status
  const refusedSince = (since: number, key: string) => until<{ reply: Reply, after: number }>('the deleted key to be refused', REVALIDATE_MS * 3, async () => {
    const reply = await sendMcp(gateway.url, 'alpha', key)
    return reply.status === 200 ? undefined : { reply, after: performance.now() - since }
  }, 2)

  t.test('subscriber connection killed just before the delete', async t => {
    const lags: number[] = []
    let lost = 0
    for (let trial = 0; trial < 5; trial++) {
      await until('the subscriber', 5000, async () => (await subscribers()) === 1)
      const { id, key } = await newKey()
      t.equal((await sendMcp(gateway.url, 'alpha', key)).status, 200, `trial ${trial}: key works and is cached`)
      await inspector.call('CLIENT', 'KILL', 'TYPE', 'pubsub')
      await deleteKey(id)
      const since = performance.now()
      // Nobody was listening when the delete published its event: that message is gone.
      if ((await subscribers()) === 0) lost++
      const { reply, after } = await refusedSince(since, key)
      lags.push(after)
      t.match(reply, { status: 401, code: 'MCPGATE_KEY_INVALID' }, `trial ${trial}: refused ${after.toFixed(0)} ms after the delete`)
      t.ok(after < REVALIDATE_MS + MARGIN_MS, `trial ${trial}: within revalidateMs (${REVALIDATE_MS} ms)`)
    }
    t.ok(lost >= 1, `the event was published to no subscriber in ${lost} of 5 trials`)
    t.comment(`refusal after a lost event (resubscribe → all stale): ${lags.map(l => l.toFixed(0)).join(', ')} ms`)
    const back = performance.now()
    await until('readyz 200', 5000, async () => (await readyz()) === 200, 10)
    t.comment(`subscriber back and ready ${(performance.now() - back).toFixed(0)} ms after the last trial`)
    t.equal(await subscribers(), 1, 'the gateway resubscribed by itself')
  })

  t.test('subscription refused for a while: only the TTL can catch the delete', async t => {
    const { id, key } = await newKey()
    t.equal((await sendMcp(gateway.url, 'alpha', key)).status, 200, 'key works and is cached')
    const cachedAt = performance.now()
    const before = await gateway.stats()

    // Redis drops the gateway's subscriber and refuses it the channel from now on.
    await inspector.call('ACL', 'SETUSER', 'default', 'resetchannels')
    await until('the gateway to notice (readyz 503)', 5000, async () => (await readyz()) === 503, 10)
    t.equal(await subscribers(), 0, 'no subscriber: the delete event will be lost')
    await deleteKey(id)
    const deletedAt = performance.now()
    const early = await sendMcp(gateway.url, 'alpha', key)
    if (performance.now() - cachedAt < REVALIDATE_MS - MARGIN_MS) {
      t.equal(early.status, 200, 'right after the delete the replica still serves it from cache (the event was lost)')
    }
    const { reply } = await refusedSince(deletedAt, key)
    const sinceCached = performance.now() - cachedAt
    t.match(reply, { status: 401, code: 'MCPGATE_KEY_INVALID' }, 'refused once the cached entry is due for revalidation')
    t.ok(sinceCached < REVALIDATE_MS + MARGIN_MS, `refused ${sinceCached.toFixed(0)} ms after it was cached (revalidateMs ${REVALIDATE_MS})`)
    const after = await gateway.stats()
    t.ok(after.revalidations > before.revalidations, 'by a revalidation (one store read)')
    t.equal(after.argon2Verifications, before.argon2Verifications, 'without argon2')
    t.equal(await readyz(), 503, 'still not ready: the subscription is refused')

    await inspector.call('ACL', 'SETUSER', 'default', 'allchannels')
    const allowedAt = performance.now()
    await until('readyz 200 again', 5000, async () => (await readyz()) === 200, 10)
    t.comment(`subscription allowed again: ready after ${(performance.now() - allowedAt).toFixed(0)} ms (reconnect backoff is capped at 250 ms)`)
    t.equal(await subscribers(), 1, 'the gateway resubscribed by itself')

    // And invalidation is immediate again.
    const next = await newKey()
    t.equal((await sendMcp(gateway.url, 'alpha', next.key)).status, 200)
    await deleteKey(next.id)
    const { after: lag } = await refusedSince(performance.now(), next.key)
    t.ok(lag < 1000, `events flow again: refused ${lag.toFixed(0)} ms after the delete (not at the TTL)`)
  })
})
