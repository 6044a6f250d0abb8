// `node --import tsx bench/limits-accuracy.ts [--limits 20,100,1000,10000] [--outage 100,1000,10000] [--kill 1000] [--replicas 3] [--connections 4] [--max-minutes 12]`:
// how exact a key's requests-per-minute limit is when several gateway replicas share it through
// one Redis (gateway/limits.ts: each replica leases 1/20 of the limit, 1–100 tokens, atomically
// from the store's counter of the minute, and spends it locally).
//
// A real redis-server (test/helpers/redis-server.ts, as the bench's revocation section starts
// one) and `--replicas` gateway processes on it (bench/gateway-target.ts, compiled, production
// defaults: audit trail on, access log on). Each trial uses a key of its own whose own limit is
// the trial's N (so its counter starts at 0), warms it on every replica (one request each: these
// count), then sends the trial's requests from `--connections` keep-alive connections per replica
// and counts the answers: 200, 429 MCPGATE_RATE_LIMITED, anything else.
//
// Trials, for each N of `--limits`:
// - even: the requests spread over every replica until 1.5 N + 30 were sent. Overshoot = 200s
//   above N (must be 0: the leases of all replicas never add up to more than the limit);
//   undershoot = N − 200s (0 expected: every replica keeps getting requests until its lease is
//   spent).
// - skewed: after the warm-up (every replica then holds a lease), every request goes to one
//   replica: the others' leases stay unspent, the undershoot the design allows (≤ a lease each).
// Outage, for each N of `--outage` (after the even/skewed trials, once every replica has counted
// the others, `replicas` in gateway/limits.ts): N/3 requests spread with Redis up, then Redis is
// stopped (SIGSTOP: a hung server, every command waits for the 250 ms timeout), 1.5 N + 30 more
// are sent, Redis is continued and 30 more sent. Each replica decides alone while the store cannot
// be reached, up to its share (N ÷ replicas seen) on top of the tokens it had leased; the bound
// printed is N's shares plus a lease per replica. The last trial, N = `--kill`, kills Redis
// instead (SIGKILL: connections refused) and does not bring it back (0: no such trial).
//
// The counter is the real UTC minute (the gateways' clock): a trial starts only when the minute
// has time enough left for it (an estimate from the throughput so far, else it waits for the next
// minute), and a trial whose first and last answer fall in different minutes is discarded and run
// again. Stops by itself: `--max-minutes` bounds the whole run.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { Pool } from 'undici'
import { buildConfig } from '../config/load.ts'
import { counterOf, MINUTE_MS, windowStart } from '../core/limits.ts'
import { openStore } from '../core/store/open.ts'
import type { KeyStore, User } from '../core/store/store.ts'
import { BENCH_DIR, buildServers, machine, pinProcess, startNode, type NodeChild } from './procs.ts'
import { BODY } from './results.ts'
import { gatewayConfig } from './run.ts'
import { CHEAP_ARGON2, createKeys, createUsers, type SeededKey } from './seed.ts'
import { round } from './stats.ts'

const { values } = parseArgs({
  options: {
    limits: { type: 'string', default: '20,100,1000,10000' },
    outage: { type: 'string', default: '100,1000,10000' },
    kill: { type: 'string', default: '1000' },
    replicas: { type: 'string', default: '3' },
    connections: { type: 'string', default: '4' },
    'max-minutes': { type: 'string', default: '12' }
  },
  allowPositionals: true
})
const list = (s: string | undefined) => (s ?? '').split(',').filter(x => x !== '').map(Number)
const replicaCount = Number(values.replicas)
const connections = Number(values.connections)
const deadline = Date.now() + Number(values['max-minutes']) * 60_000

/** gateway/limits.ts's lease: 1/20 of the limit, 1–100 tokens. */
const leaseSize = (limit: number) => Math.max(1, Math.min(100, Math.floor(limit / 20)))

interface Tally { ok: number, limited: number, other: Record<string, number> }
const tally = (): Tally => ({ ok: 0, limited: 0, other: {} })

/** One request through `pool` with `key`, counted into `t`. */
async function send (pool: Pool, key: string, t: Tally): Promise<void> {
  const r = await pool.request({
    path: '/mcp-connect/bench',
    method: 'POST',
    body: BODY,
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${key}` }
  })
  const text = await r.body.text()
  if (r.statusCode === 200) t.ok++
  else if (r.statusCode === 429 && text.includes('RATE_LIMITED')) t.limited++
  else {
    const code = /"code":"(\w+)"/.exec(text)?.[1] ?? ''
    const k = `${r.statusCode}${code === '' ? '' : ' ' + code}`
    t.other[k] = (t.other[k] ?? 0) + 1
  }
}

/** `n` requests, `connections` at a time on each of `pools` (or on `pools[only]` alone). */
async function spread (pools: Pool[], key: string, n: number, t: Tally, only: number | null = null): Promise<void> {
  let next = 0
  const targets = only === null ? pools : [pools[only] as Pool]
  await Promise.all(targets.flatMap(pool => Array.from({ length: connections }, async () => {
    while (next++ < n) await send(pool, key, t)
  })))
}

const dir = mkdtempSync(join(tmpdir(), 'mcpgate-limits-'))
const [cpuLoad, cpuServer] = machine().cores >= 2 ? [0, 1] : [undefined, undefined]
if (cpuLoad !== undefined) pinProcess(process.pid, cpuLoad)
buildServers()
// The test helper's throwaway redis-server: no persistence, temp dir, killed with this process.
const { startRedis } = await import('../test/helpers/redis-server.ts')
const redis = await startRedis()
if (cpuLoad !== undefined) pinProcess(redis.pid, cpuLoad)
const children: NodeChild[] = []
const pools: Pool[] = []
let store: KeyStore | null = null
try {
  const upstream = await startNode({ name: 'upstream', script: join(BENCH_DIR, 'upstream.ts'), cpu: cpuLoad, logFile: join(dir, 'upstream.log') })
  children.push(upstream)
  const storeDoc = { type: 'redis', url: redis.url, prefix: 'bench:' }
  store = openStore(buildConfig(gatewayConfig(upstream.port, storeDoc)).store)
  const [owner] = await createUsers(store, 1, 'limits') as [User]
  for (let i = 0; i < replicaCount; i++) {
    const file = join(dir, `replica-${i}.json`)
    writeFileSync(file, JSON.stringify(gatewayConfig(upstream.port, storeDoc)))
    const r = await startNode({ name: `replica-${i}`, script: join(BENCH_DIR, 'gateway-target.ts'), args: ['--config', file], cpu: cpuServer, logFile: join(dir, `replica-${i}.log`), timeoutMs: 60_000 })
    children.push(r)
    pools.push(new Pool(`http://127.0.0.1:${r.port}`, { connections }))
  }
  const inspect = redis.client()
  /** When every replica was first seen in the store's set of replicas (they announce at their first limited key). */
  let allSeenAt: number | null = null
  /** Requests a second so far, for the minute-fit estimate (a slow start: 300). */
  let rate = 300
  process.stdout.write(`${replicaCount} replicas on one redis-server, ${connections} connections each; a key of its own per trial, its own requestsPerMinute = N\n\n`)
  process.stdout.write('| trial | N | lease | sent | 200 | 429 | other | overshoot | undershoot (N − 200) | store counter |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n')

  /** Waits until the current minute has `seconds` left (else for the next minute's start). */
  const fitInMinute = async (seconds: number): Promise<void> => {
    if (seconds > 55) throw new Error(`a trial of ~${round(seconds, 0)} s cannot fit in a minute's window: lower N`)
    const left = MINUTE_MS - Date.now() % MINUTE_MS
    if (left < seconds * 1000) await delay(left + 200)
  }

  /**
   * One trial in one minute window: a fresh key limited to `limit`, warmed on every replica, then
   * `body` (the load); retried (at most twice) when its answers straddle a minute boundary.
   */
  const trial = async (name: string, limit: number, sent: number, extraS: number, body: (key: SeededKey) => Promise<Record<string, Tally>>): Promise<{ key: SeededKey, tallies: Record<string, Tally>, window: number }> => {
    for (let attempt = 0; ; attempt++) {
      if (Date.now() > deadline) throw new Error('--max-minutes reached')
      const [key] = await createKeys(store as KeyStore, [owner], 1, CHEAP_ARGON2, { limits: { requestsPerMinute: limit } }) as [SeededKey]
      await fitInMinute(sent / rate + extraS + 5)
      const t0 = Date.now()
      const tallies = await body(key)
      const t1 = Date.now()
      const total = Object.values(tallies).reduce((n, t) => n + t.ok + t.limited + Object.values(t.other).reduce((a, b) => a + b, 0), 0)
      rate = Math.max(100, total / Math.max(0.001, (t1 - t0) / 1000))
      if (windowStart('requests', t0) === windowStart('requests', t1)) return { key, tallies, window: windowStart('requests', t0) }
      process.stderr.write(`${name} N=${limit}: straddled a minute boundary, run again\n`)
      if (attempt >= 2) throw new Error(`${name} N=${limit}: straddled a minute boundary three times`)
    }
  }
  const warm = async (key: SeededKey, t: Tally): Promise<void> => {
    for (const pool of pools) await send(pool, key.key, t)
    if (allSeenAt === null && await inspect.zcard('bench:replicas') >= replicaCount) allSeenAt = Date.now()
  }
  const counter = async (key: SeededKey, window: number): Promise<number> =>
    (await (store as KeyStore).tokensUsed([counterOf(`k:${key.keyId}`, 'requests', window)]))[0] ?? 0
  const row = (name: string, limit: number, sent: number, t: Tally, stored: number | string, bound = '') => {
    const other = Object.entries(t.other).map(([k, v]) => `${v} × ${k}`).join(', ') || '0'
    process.stdout.write(`| ${name} | ${limit} | ${leaseSize(limit)} | ${sent} | ${t.ok} | ${t.limited} | ${other} | ${round(Math.max(0, t.ok - limit) / limit * 100, 2)} % | ${limit - t.ok}${bound} | ${stored} |\n`)
  }

  for (const limit of list(values.limits)) {
    for (const pattern of ['even', 'skewed'] as const) {
      const sent = Math.ceil(limit * 1.5) + 30
      const { key, tallies, window } = await trial(pattern, limit, sent, 0, async key => {
        const t = tally()
        await warm(key, t)
        await spread(pools, key.key, sent - replicaCount, t, pattern === 'skewed' ? 0 : null)
        return { all: t }
      })
      row(pattern, limit, sent, tallies.all as Tally, await counter(key, window), pattern === 'skewed' ? ` (≤ ${(replicaCount - 1) * leaseSize(limit)}: the idle replicas' leases)` : '')
    }
  }

  // The outage share is limit ÷ the replicas a replica saw at its last announcement (every 10 s).
  if (allSeenAt === null) {
    const until = Date.now() + 30_000
    while (await inspect.zcard('bench:replicas') < replicaCount && Date.now() < until) await delay(500)
    allSeenAt = Date.now()
  }
  const settled = allSeenAt + 11_000 - Date.now()
  if (settled > 0) await delay(settled)
  const outages = [...list(values.outage).map(limit => ({ limit, mode: 'stop' as const })), ...list(values.kill).filter(n => n > 0).map(limit => ({ limit, mode: 'kill' as const }))]
  process.stdout.write('\nOutage: N/3 requests with Redis up (before), then Redis stopped while 1.5 N + 30 more are sent (during), then 30 more after it is back (after; `kill`: not brought back).\n\n')
  process.stdout.write('| trial | N | lease | before: 200 / sent | during: 200 / sent | bound during (N\'s shares + a lease per replica) | during: 429, other | after: 200 / sent | whole window: 200, over N | store counter after |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n')
  for (const { limit, mode } of outages) {
    const before = Math.floor(limit / 3)
    const during = Math.ceil(limit * 1.5) + 30
    const after = mode === 'kill' ? 0 : 30
    // While Redis is stopped, every lease a replica asks for waits out the store's 250 ms command timeout.
    const waitsS = Math.ceil(Math.max(1, Math.floor(limit / replicaCount)) / leaseSize(limit) + 2) * 0.25
    const { key, tallies, window } = await trial(mode, limit, before + during + after, waitsS, async key => {
      const b = tally()
      await warm(key, b)
      await spread(pools, key.key, before - replicaCount, b)
      if (mode === 'kill') await redis.kill()
      else redis.pause()
      const d = tally()
      try {
        await spread(pools, key.key, during, d)
      } finally {
        if (mode === 'stop') redis.resume()
      }
      const a = tally()
      if (after > 0) await spread(pools, key.key, after, a)
      return { before: b, during: d, after: a }
    })
    const [b, d, a] = [tallies.before, tallies.during, tallies.after] as [Tally, Tally, Tally]
    const share = Math.max(1, Math.floor(limit / replicaCount))
    const whole = b.ok + d.ok + a.ok
    const others = (t: Tally) => Object.entries(t.other).map(([k, v]) => `${v} × ${k}`).join(', ') || '0'
    const other = others(d)
    /** A phase's refusals, when it had any (none expected before the outage). */
    const refused = (t: Tally) => t.limited + Object.keys(t.other).length === 0 ? '' : ` (${t.limited} × 429, ${others(t)})`
    const stored = mode === 'kill' ? '(Redis gone)' : String(await counter(key, window))
    process.stdout.write(`| ${mode} | ${limit} | ${leaseSize(limit)} | ${b.ok} / ${before}${refused(b)} | ${d.ok} / ${during} | ${replicaCount * (share + leaseSize(limit))} | ${d.limited}, ${other} | ${after === 0 ? '—' : `${a.ok} / ${after}${refused(a)}`} | ${whole}, ${round(Math.max(0, whole - limit) / limit * 100, 1)} % | ${stored} |\n`)
  }
} finally {
  await Promise.all(pools.map(p => p.destroy()))
  for (const c of children.reverse()) await c.stop()
  await store?.close().catch(() => {})
  await redis.stop()
  rmSync(dir, { recursive: true, force: true })
}
