// lastUsedAt is recorded off the request path: 10,000 proxied requests over one key through a real
// `mcpgate start` process cause only a few store writes (every Redis command watched with
// MONITOR), and the admin API shows the time of use within one gateway.lastUsedFlushMs.
import autocannon from 'autocannon'
import t from 'tap'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { testRedis } from '../helpers/stores.ts'
import { adminClient, ADMIN_TOKEN, FAST_HASHING, sendMcp, startMcpgate, until, waitReady, writeConfig } from '../helpers/processes.ts'

const FLUSH_MS = 1000
const REQUESTS = 10_000
const PREFIX = 'lastused:'

t.test('10,000 requests, a few writes, visible within one flush interval', async t => {
  const redis = await testRedis(t)
  const upstream = await startRawUpstream(t, (_req, res) => { res.end('{"jsonrpc":"2.0","id":1,"result":{}}') })
  const mcpgate = await startMcpgate(t, 'start', writeConfig(t, {
    gateway: { host: '127.0.0.1', port: 0, lastUsedFlushMs: FLUSH_MS, shutdownGraceMs: 1000 },
    admin: { host: '127.0.0.1', port: 0, token: ADMIN_TOKEN },
    store: { type: 'redis', url: redis.url, prefix: PREFIX },
    servers: [{ id: 'up', url: `${upstream.origin}/mcp` }],
    hashing: FAST_HASHING,
    log: { level: 'fatal', accessLog: false }
  }))
  await Promise.all([waitReady(mcpgate.url), waitReady(mcpgate.adminUrl as string)])
  const admin = adminClient(mcpgate.adminUrl as string)
  const user = await admin.createUser({ email: 'busy@example.com' })
  const { id, key } = await admin.createKey(user.id, { name: 'busy', mcpServerIds: ['*'] })
  t.equal((await sendMcp(mcpgate.url, 'up', key)).status, 200, 'the key works')

  // Every command Redis runs from now on, as Redis sees it.
  const monitor = await redis.monitor()
  t.teardown(() => monitor.disconnect())
  const commands: string[][] = []
  // Commands run inside a Lua script show up too, with source "lua": the script call counts once.
  monitor.on('monitor', (_time: string, args: string[], source: string) => { if (source !== 'lua') commands.push(args) })
  /** touchKeys: EVALSHA/EVAL with key hashes as KEYS and only timestamps as ARGV. */
  const isLastUsedWrite = (args: string[]): boolean => {
    if (!/^eval(sha)?$/i.test(args[0] ?? '')) return false
    const n = Number(args[2])
    const keys = args.slice(3, 3 + n)
    const argv = args.slice(3 + n)
    return n > 0 && keys.every(k => k.startsWith(`${PREFIX}k:`)) && argv.length === n && argv.every(a => /^\d+$/.test(a))
  }
  /** appendAudit: one EVALSHA/EVAL per batch of audit events (a batch id key, then the stream). */
  const isAuditWrite = (args: string[]): boolean =>
    /^eval(sha)?$/i.test(args[0] ?? '') && args[2] === '2' && (args[3] ?? '').startsWith(`${PREFIX}ab:`) && args[4] === `${PREFIX}audit`

  const startedAt = performance.now()
  const result = await autocannon({
    url: `${mcpgate.url}/mcp-connect/up`,
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
    connections: 16,
    amount: REQUESTS
  })
  const durationMs = performance.now() - startedAt
  const duringLoad = [...commands]
  t.equal(result.non2xx, 0, 'no failures')
  t.equal(result['2xx'], REQUESTS, `${REQUESTS} requests answered 200 in ${(durationMs / 1000).toFixed(1)} s (${Math.round(result.requests.average)} req/s)`)

  // One more request, then the time until the admin API shows it.
  const sentAt = Date.now()
  t.equal((await sendMcp(mcpgate.url, 'up', key)).status, 200)
  const answeredAt = performance.now()
  await until('lastUsedAt in the admin API', FLUSH_MS * 5, async () => {
    const r = await admin.call('GET', `/api/admin-api-keys/${id}`)
    const at = r.json<{ lastUsedAt: string | null }>().lastUsedAt
    return at !== null && Date.parse(at) >= sentAt
  }, 20)
  const visibleAfter = performance.now() - answeredAt
  const list = await admin.call('GET', `/api/admin-api-keys?userId=${user.id}`)
  const listed = list.json<{ items: Array<{ id: string, lastUsedAt: string | null }> }>().items.find(k => k.id === id)
  t.ok(listed?.lastUsedAt !== null && Date.parse(listed?.lastUsedAt ?? '') >= sentAt, 'the admin list shows the time of the last use')
  t.ok(visibleAfter <= FLUSH_MS + 250, `visible ${visibleAfter.toFixed(0)} ms after the request (lastUsedFlushMs ${FLUSH_MS})`)

  const writes = commands.filter(isLastUsedWrite).length
  const bound = Math.ceil((durationMs + visibleAfter) / FLUSH_MS) + 1
  // During the load: nothing but the batched writes and the subscriber's heartbeat.
  const other = duringLoad.filter(c => !isLastUsedWrite(c) && !isAuditWrite(c) && !/^ping$/i.test(c[0] ?? ''))
  // The audit trail (on by default) is batched too: at most one write per audit flush (1 s by
  // default) plus one per 1,000 events (its largest batch).
  const auditWrites = duringLoad.filter(isAuditWrite).length
  const auditBound = Math.ceil(durationMs / 1000) + 1 + Math.ceil(REQUESTS / 1000)
  t.ok(auditWrites >= 1 && auditWrites <= auditBound, `audit events written in batches (${auditWrites} writes ≤ ${auditBound} for ${REQUESTS} requests)`)
  t.comment(`${REQUESTS + 1} requests in ${durationMs.toFixed(0)} ms: ${writes} lastUsedAt writes (Redis MONITOR), ${duringLoad.length} Redis commands in all during the load`)
  t.ok(writes >= 1, 'lastUsedAt was written')
  t.ok(writes <= bound, `at most one write per flush interval (${writes} ≤ ${bound})`)
  // On a loaded machine the subscriber's heartbeat can time out: it reconnects (CLIENT, INFO,
  // SUBSCRIBE) and, as designed, the cached key is read again once (DESIGN: "on every
  // (re)subscribe, mark all entries stale"). That is the cache's recovery, not the request path.
  const resubscribes = other.filter(c => /^subscribe$/i.test(c[0] ?? '')).length
  const afterHandshake = other.filter(c => !/^(client|info|subscribe)$/i.test(c[0] ?? ''))
  if (resubscribes > 0) t.comment(`the subscriber reconnected ${resubscribes} time(s) during the load`)
  t.ok(afterHandshake.length <= 2 * resubscribes, `the request path itself sent nothing else to Redis (${afterHandshake.length} other commands: ${afterHandshake.map(c => c[0]).join(', ') || 'none'}; at most 2 revalidation reads per resubscription allowed)`)
})
