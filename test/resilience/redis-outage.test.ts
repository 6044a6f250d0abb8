// Redis down (the server killed) and Redis frozen (SIGSTOP: sockets open, no answers), under a real
// `mcpgate start` process (gateway + admin API on one RedisStore):
// - a cached key keeps working for gateway.cache.graceMs after the last healthy store contact,
//   then 503; each such request is counted (stats.graceServed, and the served_from_grace metric);
// - an uncached key gets 503 + Retry-After, never 401;
// - no request waits longer than store.commandTimeoutMs plus a small margin (measured);
// - the admin API answers 503, and no write is left half-done (inspected after Redis is back);
// - when Redis is back (restart()/resume()), service is normal within 1 s with nothing restarted.
import t, { type Test } from 'tap'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { startRedis, type RedisHandle } from '../helpers/redis-server.ts'
import { assertRedisHolds, redisStore } from '../helpers/stores.ts'
import {
  adminClient, ADMIN_TOKEN, FAST_HASHING, request, sendMcp, startMcpgate, summary, until, waitReady, writeConfig,
  type McpgateProcess, type Reply
} from '../helpers/processes.ts'

const COMMAND_TIMEOUT_MS = 250
/** What a request may wait beyond the command timeout: scheduling on a loaded 2-core machine. */
const WAIT_MARGIN_MS = 200
const REVALIDATE_MS = 300
const GRACE_MS = 3000
/** The grace decision is taken when the store read fails, up to one command timeout after sending. */
const EDGE_MS = COMMAND_TIMEOUT_MS + 200
const RECOVERY_LIMIT_MS = 1000
const PREFIX = 'outage:'

interface Setup { redis: RedisHandle, mcpgate: McpgateProcess }

async function setup (t: Test, upstreamUrl: string): Promise<Setup> {
  // Persistence on (fsync always), so that a killed server comes back with its data and what was
  // (not) written during the outage can be inspected.
  const redis = await startRedis({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] })
  t.teardown(() => redis.stop())
  const mcpgate = await startMcpgate(t, 'start', writeConfig(t, {
    gateway: { host: '127.0.0.1', port: 0, cache: { revalidateMs: REVALIDATE_MS, graceMs: GRACE_MS }, lastUsedFlushMs: 600_000, shutdownGraceMs: 1000 },
    admin: { host: '127.0.0.1', port: 0, token: ADMIN_TOKEN },
    store: { type: 'redis', url: redis.url, prefix: PREFIX, commandTimeoutMs: COMMAND_TIMEOUT_MS },
    hashing: FAST_HASHING,
    log: { level: 'fatal', accessLog: false },
    servers: [{ id: 'alpha', url: upstreamUrl }]
  }), { probe: true })
  return { redis, mcpgate }
}

function metric (text: string, name: string, labels: string): number {
  const line = text.split('\n').find(l => l.startsWith(`${name}{${labels}}`))
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1))
}

async function scenario (t: Test, { redis, mcpgate }: Setup, fault: 'kill' | 'pause') {
  const gateway = mcpgate.url
  const adminUrl = mcpgate.adminUrl as string
  await Promise.all([waitReady(gateway), waitReady(adminUrl)])
  const admin = adminClient(adminUrl)
  const user = await admin.createUser({ email: `${fault}@example.com` })
  const cached = await admin.createKey(user.id, { name: 'cached', mcpServerIds: ['*'] })
  const uncached = await admin.createKey(user.id, { name: 'uncached', mcpServerIds: ['*'] })
  const doomed = await admin.createKey(user.id, { name: 'delete attempted during the outage', mcpServerIds: ['*'] })
  t.equal((await sendMcp(gateway, 'alpha', cached.key)).status, 200, 'cached key works (and is cached)')

  // The last healthy store contact: a readiness ping, just before the fault.
  const healthyAt = performance.now()
  t.equal((await request(`${gateway}/readyz`)).status, 200)
  if (fault === 'kill') await redis.kill()
  else redis.pause()
  const faultAt = performance.now()
  t.comment(`redis ${fault === 'kill' ? 'killed' : 'frozen (SIGSTOP)'}`)

  const waits: number[] = []
  const timed = async (r: Promise<Reply>): Promise<Reply> => {
    const reply = await r
    waits.push(reply.ms)
    return reply
  }

  // Uncached key: 503 with Retry-After, never 401.
  const refusedUncached = await timed(sendMcp(gateway, 'alpha', uncached.key))
  t.match(refusedUncached, { status: 503, code: 'MCPGATE_STORE_UNAVAILABLE' }, 'uncached key: 503 MCPGATE_STORE_UNAVAILABLE')
  t.ok(Number(refusedUncached.headers.get('retry-after')) > 0, 'with Retry-After')

  // Admin writes: 503, bounded too.
  const createUser = await timed(admin.call('POST', '/api/users', { email: `during-${fault}@example.com` }))
  const createKey = await timed(admin.call('POST', `/api/users/${user.id}/api-keys`, { name: 'during the outage', mcpServerIds: ['*'] }))
  const deleteKey = await timed(admin.call('DELETE', `/api/admin-api-keys/${doomed.id}`))
  t.same([createUser.status, createKey.status, deleteKey.status], [503, 503, 503], 'admin API: create user, create key, delete key → 503')
  t.notMatch(createKey.body, /ok1-/, 'no key was shown for a create that answered 503')

  // The cached key, polled through the outage: served until graceMs after the last healthy
  // contact, then 503. Requests close to the edge may go either way.
  const timeline: Array<{ at: number, status: number, code?: string }> = []
  let inGrace = 0
  for (;;) {
    const r = await timed(sendMcp(gateway, 'alpha', cached.key))
    const at = performance.now() - healthyAt
    timeline.push({ at, status: r.status, ...(r.code === undefined ? {} : { code: r.code }) })
    if (r.status === 200) inGrace++
    if (r.status !== 200 && at > GRACE_MS) break
    if (at > GRACE_MS + 3000) break
    // Each also checks that an uncached key never gets a 401 at any point of the outage.
    const u = await timed(sendMcp(gateway, 'alpha', uncached.key))
    if (u.status !== 503) t.fail(`uncached key answered ${u.status} ${u.code} during the outage`)
    await new Promise(resolve => setTimeout(resolve, 40))
  }
  const wrongEarly = timeline.filter(e => e.at < GRACE_MS - EDGE_MS && e.status !== 200)
  const wrongLate = timeline.filter(e => e.at > GRACE_MS + EDGE_MS && e.status !== 503)
  t.same(wrongEarly, [], `cached key served throughout the grace window (${inGrace} requests answered 200)`)
  t.same(wrongLate, [], 'and refused after it')
  const last = timeline[timeline.length - 1]
  t.match(last, { status: 503, code: 'MCPGATE_STORE_UNAVAILABLE' }, `grace over: 503 MCPGATE_STORE_UNAVAILABLE (at ${last?.at.toFixed(0)} ms; graceMs ${GRACE_MS})`)
  const firstRefusal = timeline.find(e => e.status !== 200)
  t.comment(`cached key: 200 until ${timeline.filter(e => e.status === 200).pop()?.at.toFixed(0)} ms, first 503 at ${firstRefusal?.at.toFixed(0)} ms after the last healthy contact (graceMs ${GRACE_MS}); fault ${(faultAt - healthyAt).toFixed(0)} ms after it`)

  const stats = await mcpgate.stats()
  t.ok(stats.graceServed >= 1, `served from grace: stats.graceServed = ${stats.graceServed}`)
  const metrics = (await request(`${gateway}/metrics`)).body
  const graceMetric = metric(metrics, 'mcpgate_auth_outcomes_total', 'outcome="served_from_grace"')
  t.equal(graceMetric, stats.graceServed, `mcpgate_auth_outcomes_total{outcome="served_from_grace"} = ${graceMetric}`)
  t.equal(stats.outcomes.KeyInvalid ?? 0, 0, 'no key was ever called invalid during the outage')

  const w = summary(waits)
  t.comment(`request waits during the outage (${w.n} requests): p50 ${w.p50} ms, p99 ${w.p99} ms, max ${w.max} ms (commandTimeoutMs ${COMMAND_TIMEOUT_MS})`)
  t.ok(w.max < COMMAND_TIMEOUT_MS + WAIT_MARGIN_MS, `no request waited longer than commandTimeoutMs + ${WAIT_MARGIN_MS} ms (max ${w.max} ms)`)

  // Redis returns; nothing of ours is restarted.
  const pid = mcpgate.child.pid
  if (fault === 'kill') await redis.restart()
  else redis.resume()
  const backAt = performance.now()
  const recovered = async (what: string, ok: () => Promise<boolean>) => {
    await until(what, 10_000, async () => { try { return await ok() } catch { return false } }, 10)
    return performance.now() - backAt
  }
  const recovery = await Promise.all([
    recovered('cached key 200', async () => (await sendMcp(gateway, 'alpha', cached.key)).status === 200),
    recovered('uncached key 200', async () => (await sendMcp(gateway, 'alpha', uncached.key)).status === 200),
    recovered('gateway readyz 200', async () => (await request(`${gateway}/readyz`)).status === 200),
    recovered('admin API write', async () => (await admin.call('POST', '/api/users', { email: `after-${fault}@example.com` })).status === 201)
  ])
  const names = ['cached key', 'uncached key', 'gateway ready (store + subscription)', 'admin write']
  t.comment(`recovery after ${fault === 'kill' ? 'restart' : 'resume'}: ${recovery.map((ms, i) => `${names[i]} ${ms.toFixed(0)} ms`).join(', ')}`)
  for (const [i, ms] of recovery.entries()) t.ok(ms < RECOVERY_LIMIT_MS, `${names[i]}: normal within ${RECOVERY_LIMIT_MS} ms (${ms.toFixed(0)} ms)`)
  t.equal(mcpgate.child.pid, pid, 'the same process throughout')
  t.equal(mcpgate.child.exitCode, null, 'still running')

  // Nothing half-written: every user and key in Redis is whole, and indexed exactly once.
  const inspect = await redisStore(t, redis, { prefix: PREFIX })
  const users = (await inspect.listUsers({ limit: 100 })).items
  const keys = (await inspect.listKeys({ limit: 100 })).items
  await assertRedisHolds(t, redis, inspect, { userIds: users.map(u => u.id), keyIds: keys.map(k => k.id) })
  const applied = {
    createUser: users.some(u => u.email === `during-${fault}@example.com`),
    createKey: keys.some(k => k.name === 'during the outage'),
    deleteKey: !keys.some(k => k.id === doomed.id)
  }
  if (fault === 'kill') {
    t.same(applied, { createUser: false, createKey: false, deleteKey: false }, 'Redis was down: none of the refused writes happened')
  } else {
    // A frozen server still holds the commands already sent on its socket and runs them when it
    // resumes: a 503 after a timeout means "not confirmed", each write whole or not at all.
    t.comment(`frozen: refused writes applied after resume (atomically): ${JSON.stringify(applied)}`)
  }
  t.ok(keys.some(k => k.id === cached.id) && keys.some(k => k.id === uncached.id), 'the keys in use are intact')
}

t.test('redis outages', async t => {
  const upstream = await startRawUpstream(t, (_req, res) => { res.end('{}') })
  const url = `${upstream.origin}/mcp`
  // Both processes start together; the scenarios then run one after the other.
  const [killed, frozen] = await Promise.all([setup(t, url), setup(t, url)])
  t.test('redis killed, then restarted', t => scenario(t, killed as Setup, 'kill'))
  t.test('redis frozen (SIGSTOP), then resumed', t => scenario(t, frozen as Setup, 'pause'))
})
