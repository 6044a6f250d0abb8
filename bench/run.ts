// `npm run bench [-- --quick]`: measures mcpgate against a direct upstream, a bare
// @fastify/http-proxy and nginx in ONE run (alternating target order over repetitions), plus SSE
// timing, cold-key latency, a wrong-secret flood, RSS and revocation lag across Redis replicas,
// and writes bench/RESULTS.md (or RESULTS-quick.md) with the ratios against the issue's targets.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { pathToFileURL } from 'node:url'
import { Pool, request } from 'undici'
import { buildConfig } from '../config/load.ts'
import { openStore } from '../core/store/open.ts'
import type { KeyStore } from '../core/store/store.ts'
import type { FloodResult, FloodSpec } from './flood.ts'
import { runLoad, WRK, type LoadResult, type LoadSpec } from './load.ts'
import { startNginx } from './nginx.ts'
import {
  BENCH_DIR, TASKSET, buildServers, commandVersion, cpuTicks, cpuTimeOf, hasCommand, machine, maxRssDuring, memoryOf, pinProcess, renice, rssOf, stealPct,
  setNiceness, startNode, type NodeChild
} from './procs.ts'
import type { MemoryReport } from './child.ts'
import { renderMarkdown } from './report.ts'
import { BODY, TARGET_LABELS, type BenchOptions, type BenchResults, type FloodPhase, type FloodPhaseFigures, type MeasuredRun, type SseFigures, type TargetName } from './results.ts'
import { CHEAP_ARGON2, DEFAULT_ARGON2, createKeys, createUsers, malformedKeys, wrongSecretKeys, writeKeysFile, type SeededKey } from './seed.ts'
import { sseStream, sseStreams, type StreamTiming } from './sse-client.ts'
import { runStreamSections, type StreamsCtx, type StreamsResults } from './streams.ts'
import { percentile, round, spread } from './stats.ts'
import { evaluate } from './targets.ts'
import { SSE_EVENTS } from './upstream.ts'

/** None: bin/mcpgate.js runs with Node's defaults (see README, GC settings). */
export const DEFAULT_NODE_FLAGS: string[] = []

export const FULL: BenchOptions = {
  mode: 'full',
  durationS: 10,
  warmupS: 3,
  reps: 3,
  concurrency: [1, 10, 64],
  totalKeys: 100_000,
  activeKeys: 10_000,
  coldKeys: 20,
  floodVictims: 100,
  floodRate: 500,
  floodSources: 16,
  floodRounds: 5,
  sseSingleRuns: 20,
  sseRounds: 3,
  sseConcurrent: 64,
  revocationTrials: 200,
  replicas: 3,
  idleStreams: 10_000,
  idleStreamServers: 4,
  streamCutTrials: 200,
  nice: 0,
  nodeFlags: DEFAULT_NODE_FLAGS,
  tool: WRK ? 'wrk' : 'autocannon',
  out: join(BENCH_DIR, 'RESULTS.md'),
  jsonOut: join(BENCH_DIR, 'results.json'),
  log: line => process.stderr.write(line + '\n')
}

export const QUICK: BenchOptions = {
  ...FULL,
  mode: 'quick',
  durationS: 3,
  warmupS: 1,
  reps: 1,
  totalKeys: 10_000,
  activeKeys: 2_000,
  coldKeys: 5,
  floodVictims: 20,
  floodRounds: 1,
  sseSingleRuns: 5,
  sseRounds: 1,
  revocationTrials: 30,
  idleStreams: 1_000,
  streamCutTrials: 30,
  out: join(BENCH_DIR, 'RESULTS-quick.md'),
  jsonOut: join(BENCH_DIR, 'results-quick.json')
}

const MCP_PATH = '/mcp-connect/bench'
const BASE_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }
const MB = 1024 * 1024

function mb (bytes: number | null): number | null {
  return bytes === null ? null : round(bytes / MB, 1)
}

function heapOf (report: MemoryReport | null): { rss: number, heapUsed: number, heapTotal: number } | null {
  if (report === null) return null
  const { rss, heapUsed, heapTotal } = report.memory
  return { rss: mb(rss) as number, heapUsed: mb(heapUsed) as number, heapTotal: mb(heapTotal) as number }
}

interface Ctx {
  opts: BenchOptions
  dir: string
  cpuLoad: number | undefined
  cpuServer: number | undefined
}

/**
 * A gateway config document for the bench: one upstream, the store given, production defaults
 * otherwise, or `extra`'s top-level sections merged over them (bench/instructions.ts).
 */
export function gatewayConfig (upstreamPort: number, store: Record<string, unknown>, extra: Record<string, Record<string, unknown>> = {}): Record<string, unknown> {
  return {
    ...extra,
    gateway: { ...extra.gateway, host: '127.0.0.1', port: 0 },
    store,
    servers: [{ id: 'bench', url: `http://127.0.0.1:${upstreamPort}/mcp`, access: 'everyone' }]
  }
}

function withVerificationRate (doc: Record<string, unknown>, perSecond: number): Record<string, unknown> {
  const gateway = doc.gateway as Record<string, unknown>
  return { ...doc, gateway: { ...gateway, guards: { maxVerificationsPerSecond: perSecond } } }
}

async function startGateway (ctx: Ctx, name: string, doc: Record<string, unknown>): Promise<NodeChild> {
  const file = join(ctx.dir, `${name}.config.json`)
  writeFileSync(file, JSON.stringify(doc))
  return startNode({
    name,
    script: join(BENCH_DIR, 'gateway-target.ts'),
    args: ['--config', file],
    cpu: ctx.cpuServer,
    nodeFlags: ctx.opts.nodeFlags,
    logFile: join(ctx.dir, `${name}.log`),
    timeoutMs: 60_000
  })
}

/** Sends one request per key through `pool` with bounded concurrency; retries 429/503 (guards). */
export async function warmKeys (pool: Pool, keys: SeededKey[], concurrency: number): Promise<number> {
  let next = 0
  let retries = 0
  const worker = async () => {
    while (next < keys.length) {
      const k = keys[next++] as SeededKey
      for (let attempt = 0; ; attempt++) {
        const res = await pool.request({ method: 'POST', path: MCP_PATH, headers: { ...BASE_HEADERS, authorization: `Bearer ${k.key}` }, body: BODY })
        await res.body.dump()
        if (res.statusCode === 200) break
        if ((res.statusCode === 429 || res.statusCode === 503) && attempt < 50) {
          retries++
          await new Promise(resolve => setTimeout(resolve, 20))
          continue
        }
        throw new Error(`warming key ${k.keyId}: status ${res.statusCode}`)
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return retries
}

async function timedRequest (pool: Pool, key: string): Promise<{ ms: number, status: number }> {
  const t0 = performance.now()
  const res = await pool.request({ method: 'POST', path: MCP_PATH, headers: { ...BASE_HEADERS, authorization: `Bearer ${key}` }, body: BODY })
  await res.body.dump()
  return { ms: performance.now() - t0, status: res.statusCode }
}

/**
 * Starts the flood generator (its compiled twin once the bench has compiled, like the servers) on
 * the load generator's core and resolves once it sends its first requests; `done` is its result.
 */
async function startFlood (ctx: Ctx, spec: FloodSpec): Promise<{ done: Promise<FloodResult> }> {
  const child = await startNode({ name: 'flood generator', script: join(BENCH_DIR, 'flood.ts'), args: [JSON.stringify(spec)], cpu: ctx.cpuLoad, logFile: join(ctx.dir, 'flood.log') })
  const done = new Promise<FloodResult>((resolve, reject) => {
    let result: FloodResult | undefined
    child.proc.on('message', (msg: { result?: FloodResult }) => {
      if (msg?.result !== undefined) result = msg.result
    })
    child.proc.once('exit', code => {
      if (result !== undefined) resolve(result)
      else reject(new Error(`flood generator exited with ${code} and no result (log: ${join(ctx.dir, 'flood.log')})`))
    })
  })
  // Awaited after the valid load's run; until then a failure must not count as unhandled.
  done.catch(() => {})
  return { done }
}

/** Flood results of several rounds added up. */
function sumFloods (results: FloodResult[]): FloodResult {
  const statuses: Record<string, number> = {}
  for (const r of results) for (const [k, n] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + n
  const sum = (f: (r: FloodResult) => number) => results.reduce((n, r) => n + f(r), 0)
  return { sent: sum(r => r.sent), skipped: sum(r => r.skipped), statuses, durationS: round(sum(r => r.durationS), 2), cpuUs: sum(r => r.cpuUs) }
}

function summarizeSse (single: StreamTiming[], concurrent: StreamTiming[], streams: number): SseFigures {
  const singleGaps = single.flatMap(s => s.gaps)
  const concGaps = concurrent.flatMap(s => s.gaps)
  return {
    single: {
      ttfbMs: spread(single.map(s => round(s.ttfb, 3))),
      gapP50Ms: round(percentile(singleGaps, 50), 3),
      gapP99Ms: round(percentile(singleGaps, 99), 3),
      gapMaxMs: round(Math.max(...singleGaps), 3),
      totalMs: round(percentile(single.map(s => s.total), 50), 1)
    },
    concurrent: {
      streams,
      ttfbP50Ms: round(percentile(concurrent.map(s => s.ttfb), 50), 3),
      ttfbP99Ms: round(percentile(concurrent.map(s => s.ttfb), 99), 3),
      gapP50Ms: round(percentile(concGaps, 50), 3),
      gapP99Ms: round(percentile(concGaps, 99), 3),
      gapMaxMs: round(Math.max(...concGaps), 3),
      totalP50Ms: round(percentile(concurrent.map(s => s.total), 50), 1)
    }
  }
}

async function measureRevocation (ctx: Ctx, upstreamPort: number): Promise<NonNullable<BenchResults['revocation']>> {
  const { opts } = ctx
  // The test helper starts a throwaway redis-server (no persistence, temp dir, killed with us).
  const { startRedis } = await import('../test/helpers/redis-server.ts')
  const redis = await startRedis()
  if (ctx.cpuLoad !== undefined) pinProcess(redis.pid, ctx.cpuLoad)
  renice(redis.pid)
  const storeDoc = { type: 'redis', url: redis.url, prefix: 'bench:' }
  const store = openStore(buildConfig(gatewayConfig(upstreamPort, storeDoc)).store)
  const replicas: NodeChild[] = []
  const pools: Pool[] = []
  try {
    const [owner] = await createUsers(store, 1, 'revoke')
    await Promise.all(Array.from({ length: opts.replicas }, (_, i) =>
      startGateway(ctx, `replica-${i}`, withVerificationRate(gatewayConfig(upstreamPort, storeDoc), 1_000_000)).then(r => { replicas.push(r) })))
    const perReplica: number[] = []
    const everywhere: number[] = []
    let timeouts = 0
    let warmRetries = 0
    /** Round trip of every poll: the resolution of the lag figures. */
    const pollMs: number[] = []
    const refusals: Record<string, number> = {}
    for (let trial = 0; trial < opts.revocationTrials; trial++) {
      // Each trial ends in one refused request per replica; from a fresh source address each
      // time, so the per-IP failure budget (429) never answers in place of the revocation.
      const localAddress = `127.0.${1 + (trial >> 8)}.${1 + (trial & 0xff)}`
      await Promise.all(pools.splice(0).map(p => p.destroy()))
      for (const r of replicas) pools.push(new Pool(`http://127.0.0.1:${r.port}`, { connections: 1, localAddress }))
      const [k] = await createKeys(store, [owner as NonNullable<typeof owner>], 1, CHEAP_ARGON2)
      const key = k as SeededKey
      for (const pool of pools) {
        // Caching the key is not what is measured (the replicas' first-use rate is raised): a 503
        // (redis slow to answer, or both verification slots busy on a loaded machine) is retried
        // after a short backoff before the trial fails.
        for (let attempt = 0; ; attempt++) {
          const r = await timedRequest(pool, key.key)
          if (r.status === 200) break
          if (r.status !== 503 || attempt >= 20) throw new Error(`revocation trial ${trial}: warm request got ${r.status}`)
          warmRetries++
          await new Promise(resolve => setTimeout(resolve, 50))
        }
      }
      const t0 = performance.now()
      await store.deleteKey(key.keyId)
      const lags = await Promise.all(pools.map(async pool => {
        const deadline = t0 + 5000
        for (;;) {
          const r = await timedRequest(pool, key.key)
          const now = performance.now()
          pollMs.push(r.ms)
          // Refused = anything but 200: 401 normally; a 503 means the entry was evicted and the
          // re-read timed out — the key is not served either way. Tallied in refusals.
          if (r.status !== 200) {
            refusals[r.status] = (refusals[r.status] ?? 0) + 1
            return now - t0
          }
          if (now > deadline) { timeouts++; return now - t0 }
        }
      }))
      perReplica.push(...lags)
      everywhere.push(Math.max(...lags))
    }
    return {
      replicas: opts.replicas,
      trials: opts.revocationTrials,
      perReplica: { ...spread(perReplica.map(v => round(v, 3))), p50: round(percentile(perReplica, 50), 3), p99: round(percentile(perReplica, 99), 3) },
      everywhere: { p50: round(percentile(everywhere, 50), 3), p99: round(percentile(everywhere, 99), 3), max: round(Math.max(...everywhere), 3) },
      timeouts,
      refusals,
      warmRetries,
      pollRttMs: { p50: round(percentile(pollMs, 50), 3), p99: round(percentile(pollMs, 99), 3) }
    }
  } finally {
    await Promise.all(pools.map(p => p.destroy()))
    await Promise.all(replicas.map(r => r.stop()))
    await store.close()
    await redis.stop()
  }
}

function streamsCtx (ctx: Ctx): StreamsCtx {
  const { opts } = ctx
  return {
    dir: ctx.dir,
    cpuLoad: ctx.cpuLoad,
    cpuServer: ctx.cpuServer,
    nodeFlags: opts.nodeFlags,
    tool: opts.tool,
    durationS: opts.durationS,
    warmupS: opts.warmupS,
    reps: opts.reps,
    idleStreams: opts.idleStreams,
    idleStreamServers: opts.idleStreamServers,
    streamCutTrials: opts.streamCutTrials,
    replicas: opts.replicas,
    body: BODY,
    headers: BASE_HEADERS,
    log: opts.log
  }
}

/**
 * `--only streams`: the two stream sections alone, merged into the results of the last run of
 * this mode (results.json), whose RESULTS.md is rendered again; the report says which run the
 * stream figures come from.
 */
export async function streamsOnly (opts: BenchOptions): Promise<StreamsResults> {
  const dir = mkdtempSync(join(tmpdir(), 'mcpgate-bench-'))
  const twoCores = machine().cores >= 2
  const ctx: Ctx = { opts, dir, cpuLoad: twoCores ? 0 : undefined, cpuServer: twoCores ? 1 : undefined }
  if (ctx.cpuLoad !== undefined) pinProcess(process.pid, ctx.cpuLoad)
  setNiceness(opts.nice)
  opts.log('compiling the servers (tsconfig.build.json → bench/.tmp/dist) …')
  buildServers()
  const upstream = await startNode({ name: 'upstream', script: join(BENCH_DIR, 'upstream.ts'), cpu: ctx.cpuLoad, nodeFlags: opts.nodeFlags, logFile: join(dir, 'upstream.log') })
  const errors: Record<string, string> = {}
  try {
    const streams = await runStreamSections(streamsCtx(ctx), upstream.port, async (name, fn) => {
      opts.log(`${name} …`)
      try {
        return await fn()
      } catch (err) {
        errors[name] = err instanceof Error ? err.message : String(err)
        opts.log(`  FAILED ${name}: ${errors[name]}`)
        return null
      }
    }, true, opts.mode)
    let previous: BenchResults | null = null
    try {
      if (opts.jsonOut !== null) previous = JSON.parse(readFileSync(opts.jsonOut, 'utf8')) as BenchResults
    } catch {}
    if (previous === null) {
      opts.log(`no earlier results at ${opts.jsonOut ?? '(none)'} to merge into: the stream figures are printed only`)
    } else {
      for (const name of Object.keys(previous.errors)) if (/stream/.test(name)) delete previous.errors[name]
      const merged: BenchResults = { ...previous, streams, errors: { ...previous.errors, ...errors } }
      if (opts.jsonOut !== null) writeFileSync(opts.jsonOut, JSON.stringify(merged, null, 2) + '\n')
      if (opts.out !== null) writeFileSync(opts.out, renderMarkdown(merged))
      opts.log(`merged into ${opts.jsonOut} and ${opts.out}`)
    }
    return streams
  } finally {
    await upstream.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** `--only revocation`: the revocation section without the rest of the run. */
export async function revocationOnly (opts: BenchOptions): Promise<NonNullable<BenchResults['revocation']>> {
  const dir = mkdtempSync(join(tmpdir(), 'mcpgate-bench-'))
  const twoCores = machine().cores >= 2
  const ctx: Ctx = { opts, dir, cpuLoad: twoCores ? 0 : undefined, cpuServer: twoCores ? 1 : undefined }
  if (ctx.cpuLoad !== undefined) pinProcess(process.pid, ctx.cpuLoad)
  setNiceness(opts.nice)
  const upstream = await startNode({ name: 'upstream', script: join(BENCH_DIR, 'upstream.ts'), cpu: ctx.cpuLoad, nodeFlags: opts.nodeFlags, logFile: join(dir, 'upstream.log') })
  try {
    return await measureRevocation(ctx, upstream.port)
  } finally {
    await upstream.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

export async function runBench (opts: BenchOptions): Promise<BenchResults> {
  const started = Date.now()
  const log = opts.log
  const dir = mkdtempSync(join(tmpdir(), 'mcpgate-bench-'))
  const twoCores = machine().cores >= 2
  const ctx: Ctx = { opts, dir, cpuLoad: twoCores ? 0 : undefined, cpuServer: twoCores ? 1 : undefined }
  // The runner (SSE client, warmers, revocation poller) shares the load generator's core.
  if (ctx.cpuLoad !== undefined) pinProcess(process.pid, ctx.cpuLoad)
  const nice = setNiceness(opts.nice)
  if (nice !== opts.nice) log(`could not set niceness ${opts.nice}; running at 0`)
  log('compiling the servers (tsconfig.build.json → bench/.tmp/dist) …')
  buildServers()
  const m0 = machine()
  log(`mcpgate bench (${opts.mode}): ${m0.cores} cores, ${m0.cpuModel}, node ${m0.node}, load ${opts.tool}, work dir ${dir}`)

  const children: Array<{ stop(): Promise<void> }> = []
  const stores: KeyStore[] = []
  try {
    // Servers: the proxies' upstream shares the load generator's core; every target gets core 1.
    const nodeServer = (name: string, script: string, args: string[], cpu: number | undefined) =>
      startNode({ name, script: join(BENCH_DIR, script), args, cpu, nodeFlags: opts.nodeFlags, logFile: join(dir, `${name}.log`) })
    const upstream = await nodeServer('upstream', 'upstream.ts', [], ctx.cpuLoad)
    children.push(upstream)
    const upstreamUrl = `http://127.0.0.1:${upstream.port}`

    // Seed the two mcpgate stores before their gateways start.
    log('seeding stores …')
    const storeD = { type: 'sqlite', path: join(dir, 'd.db') }
    const storeE = { type: 'sqlite', path: join(dir, 'e.db') }
    const sd = openStore(buildConfig(gatewayConfig(upstream.port, storeD)).store)
    stores.push(sd)
    const dUsers = await createUsers(sd, 10, 'd')
    const [validKey] = await createKeys(sd, dUsers, 1, CHEAP_ARGON2) as [SeededKey]
    const coldKeys = await createKeys(sd, dUsers, opts.coldKeys, DEFAULT_ARGON2)
    const victims = await createKeys(sd, dUsers, opts.floodVictims, DEFAULT_ARGON2)
    await sd.close()
    stores.pop()
    const se = openStore(buildConfig(gatewayConfig(upstream.port, storeE)).store)
    stores.push(se)
    const seedStart = performance.now()
    const eUsers = await createUsers(se, Math.max(1, Math.ceil(opts.totalKeys / 100)), 'e')
    const eKeys = await createKeys(se, eUsers, opts.totalKeys, CHEAP_ARGON2)
    await se.close()
    stores.pop()
    log(`  ${opts.totalKeys} keys seeded in ${round((performance.now() - seedStart) / 1000, 1)} s`)
    const activeFile = writeKeysFile(join(dir, 'active-keys.txt'), eKeys.slice(0, opts.activeKeys).map(k => k.key))
    const malformedFile = writeKeysFile(join(dir, 'malformed-keys.txt'), malformedKeys([validKey], 1000))

    log('starting targets …')
    const skipped: BenchResults['skipped'] = {}
    if (!hasCommand('nginx')) skipped.nginx = 'skipped: nginx not installed'
    // Started together (their startup is mostly module loading); each is stopped even if another fails.
    const track = <T extends { stop(): Promise<void> }>(p: Promise<T>): Promise<T> => p.then(c => { children.push(c); return c })
    const [direct, bare, floor, nginx, gwD, gwE] = await Promise.all([
      track(nodeServer('direct', 'upstream.ts', [], ctx.cpuServer)),
      track(nodeServer('bare', 'bare-proxy.ts', ['--upstream', upstreamUrl], ctx.cpuServer)),
      track(nodeServer('floor', 'node-floor.ts', ['--upstream', upstreamUrl], ctx.cpuServer)),
      skipped.nginx === undefined ? track(startNginx(dir, upstream.port, ctx.cpuServer)) : Promise.resolve(null),
      track(startGateway(ctx, 'mcpgate', gatewayConfig(upstream.port, storeD))),
      // Its 10,000 cheap-argon2 keys are cached by the warmer as fast as they verify: the default
      // rate of first-use verifications (20/s, a flood guard) would make that take 8 minutes.
      track(startGateway(ctx, 'mcpgate100k', withVerificationRate(gatewayConfig(upstream.port, storeE), 1_000_000)))
    ])

    const rssMB: BenchResults['rssMB'] = {}
    const idleRss: Partial<Record<TargetName, number | null>> = {
      direct: mb(rssOf(direct.pid)),
      bare: mb(rssOf(bare.pid)),
      floor: mb(rssOf(floor.pid)),
      mcpgate: mb(rssOf(gwD.pid)),
      mcpgate100k: mb(rssOf(gwE.pid))
    }
    if (nginx !== null) idleRss.nginx = mb(nginx.pids().map(p => rssOf(p) ?? 0).reduce((a, b) => a + b, 0))

    // Fill (e)'s cache with every key: its figures are with 100k verified keys in memory.
    log(`caching ${eKeys.length} keys in (e) …`)
    const warmStart = performance.now()
    const warmPool = new Pool(`http://127.0.0.1:${gwE.port}`, { connections: 4 })
    const warmRetries = await warmKeys(warmPool, eKeys, 4)
    await warmPool.destroy()
    const warm100k = { keys: eKeys.length, seconds: round((performance.now() - warmStart) / 1000, 1), retries: warmRetries }
    rssMB.mcpgate100kCachedIdle = mb(rssOf(gwE.pid))
    const heapMB: NonNullable<BenchResults['heapMB']> = { '(e) all keys cached, idle': heapOf(await memoryOf(gwE)) }
    log(`  done in ${warm100k.seconds} s; (e) RSS ${rssMB.mcpgate100kCachedIdle} MB`)

    const ports: Partial<Record<TargetName, number>> = { direct: direct.port, bare: bare.port, mcpgate: gwD.port, mcpgate100k: gwE.port, floor: floor.port }
    const pidsOf: Partial<Record<TargetName, () => number[]>> = {
      direct: () => [direct.pid], bare: () => [bare.pid], mcpgate: () => [gwD.pid], mcpgate100k: () => [gwE.pid], floor: () => [floor.pid]
    }
    if (nginx !== null) { ports.nginx = nginx.port; pidsOf.nginx = nginx.pids }
    const targets = (Object.keys(TARGET_LABELS) as TargetName[]).filter(t => ports[t] !== undefined)
    const maxLoadRss: Partial<Record<TargetName, number>> = {}

    const spec = (t: TargetName, connections: number, durationS: number): LoadSpec => ({
      url: `http://127.0.0.1:${ports[t] as number}${MCP_PATH}`,
      connections,
      durationS,
      method: 'POST',
      body: BODY,
      headers: { ...BASE_HEADERS, authorization: `Bearer ${validKey.key}` },
      keysFile: t === 'mcpgate100k' ? activeFile : undefined,
      cpu: ctx.cpuLoad,
      workDir: dir
    })
    const cpuOf = (pids: number[]) => pids.reduce<number | null>((sum, p) => {
      const c = cpuTimeOf(p)
      return sum === null || c === null ? null : sum + c
    }, 0)
    const measured = async (t: TargetName, s: LoadSpec): Promise<MeasuredRun> => {
      const pids = (pidsOf[t] as () => number[])()
      const cpu0 = cpuOf(pids)
      const ticks0 = cpuTicks()
      const { result, maxRss } = await maxRssDuring(pids[pids.length - 1] as number, runLoad(s, opts.tool))
      const cpu1 = cpuOf(pids)
      const ticks1 = cpuTicks()
      // nginx: the master is idle; its worker does the work and holds the memory that grows.
      const total = pids.length > 1 ? (maxRss ?? 0) + pids.slice(0, -1).map(p => rssOf(p) ?? 0).reduce((a, b) => a + b, 0) : maxRss
      if (total !== null && total > (maxLoadRss[t] ?? 0)) maxLoadRss[t] = total
      if (result.non2xx > 0 || result.errors > 0) log(`  WARNING ${t}: ${result.non2xx} non-2xx, ${result.errors} socket errors; now: ${await sample(s)}`)
      const cpuUsPerReq = cpu0 === null || cpu1 === null || result.requests === 0 ? null : round((cpu1 - cpu0) / result.requests, 1)
      return { ...result, cpuUsPerReq, stealPct: { server: stealPct(ticks0, ticks1, ctx.cpuServer), load: stealPct(ticks0, ticks1, ctx.cpuLoad) } }
    }

    // What a target answers right now, for the log when a run saw errors.
    const sample = async (s: LoadSpec): Promise<string> => {
      try {
        const key = s.keysFile !== undefined ? readFileSync(s.keysFile, 'utf8').split('\n')[0] : undefined
        const headers = key !== undefined ? { ...s.headers, authorization: `Bearer ${key}` } : s.headers
        const res = await request(s.url, { method: 'POST', headers, body: s.body })
        return `${res.statusCode} ${(await res.body.text()).slice(0, 200)}`
      } catch (err) {
        return String(err)
      }
    }

    log('warming up targets …')
    // Two runs per target: when the first run's connections close, V8 generalizes the socket
    // objects' shapes and throws away ~40 optimized functions of Node's HTTP and stream code
    // (~0.3 s of recompiling, once per process); the second run has them compiled again.
    if (opts.warmupS > 0) {
      for (const t of targets) {
        await runLoad(spec(t, 10, opts.warmupS), opts.tool)
        await runLoad(spec(t, 10, 1), opts.tool)
      }
    }

    // Throughput and latency: every concurrency, targets in alternating order per repetition.
    const throughput: BenchResults['throughput'] = {}
    for (let rep = 0; rep < opts.reps; rep++) {
      const order = rep % 2 === 0 ? targets : [...targets].reverse()
      for (const c of opts.concurrency) {
        for (const t of order) {
          const r = await measured(t, spec(t, c, opts.durationS))
          const cells = throughput[t] ?? (throughput[t] = {})
          const cell = cells[c] ?? (cells[c] = { runs: [], rps: { median: 0, min: 0, max: 0 }, p50: { median: 0, min: 0, max: 0 }, p99: { median: 0, min: 0, max: 0 }, cpuUsPerReq: null })
          cell.runs.push(r)
          log(`  rep ${rep + 1}/${opts.reps} c=${c} ${t}: ${Math.round(r.rps)} req/s, p50 ${r.p50} µs, p99 ${r.p99} µs, ${r.cpuUsPerReq ?? '?'} µs CPU/req, steal server/load ${r.stealPct.server ?? '?'}/${r.stealPct.load ?? '?'} %`)
        }
      }
    }
    for (const cells of Object.values(throughput)) {
      for (const cell of Object.values(cells)) {
        cell.rps = spread(cell.runs.map(r => round(r.rps, 0)))
        cell.p50 = spread(cell.runs.map(r => r.p50))
        cell.p99 = spread(cell.runs.map(r => r.p99))
        const cpu = cell.runs.map(r => r.cpuUsPerReq).filter((v): v is number => v !== null)
        cell.cpuUsPerReq = cpu.length === 0 ? null : spread(cpu)
      }
    }
    for (const t of targets) rssMB[t] = { idle: idleRss[t] ?? null, underLoad: mb(maxLoadRss[t] ?? null) }
    heapMB['(d) after the throughput runs'] = heapOf(await memoryOf(gwD))
    heapMB['(e) after the throughput runs'] = heapOf(await memoryOf(gwE))

    // The remaining sections are independent: one failing is reported, the others still run.
    const errors: Record<string, string> = {}
    const section = async <T>(name: string, fn: () => Promise<T>): Promise<T | null> => {
      log(`${name} …`)
      try {
        return await fn()
      } catch (err) {
        errors[name] = err instanceof Error ? err.message : String(err)
        log(`  FAILED ${name}: ${errors[name]}`)
        return null
      }
    }

    // SSE: time to first event and inter-event gaps, 1 stream and many at once.
    const sse: BenchResults['sse'] = {}
    await section('SSE', async () => {
      const sseTargets = targets.filter(t => t !== 'mcpgate100k')
      const sseSingle: Partial<Record<TargetName, StreamTiming[]>> = {}
      const sseConc: Partial<Record<TargetName, StreamTiming[]>> = {}
      for (let round_ = 0; round_ < Math.max(opts.sseSingleRuns, opts.sseRounds); round_++) {
        const order = round_ % 2 === 0 ? sseTargets : [...sseTargets].reverse()
        for (const t of order) {
          const url = `http://127.0.0.1:${ports[t] as number}${MCP_PATH}/sse`
          const headers = { authorization: `Bearer ${validKey.key}` }
          if (round_ < opts.sseSingleRuns) (sseSingle[t] ??= []).push(await sseStream(url, headers, SSE_EVENTS))
          if (round_ < opts.sseRounds) (sseConc[t] ??= []).push(...await sseStreams(url, headers, opts.sseConcurrent, SSE_EVENTS))
        }
      }
      for (const t of sseTargets) sse[t] = summarizeSse(sseSingle[t] ?? [], sseConc[t] ?? [], opts.sseConcurrent)
    })

    // Cold keys: the first request of a never-seen key pays the store read and argon2 (defaults).
    const coldKey = await section('cold keys', async () => {
      const pool = new Pool(`http://127.0.0.1:${gwD.port}`, { connections: 1 })
      const cached: number[] = []
      for (let i = 0; i < 50; i++) cached.push((await timedRequest(pool, validKey.key)).ms)
      const cold: number[] = []
      for (const k of coldKeys) {
        const r = await timedRequest(pool, k.key)
        if (r.status !== 200) throw new Error(`cold key request got ${r.status}`)
        cold.push(r.ms)
      }
      await pool.destroy()
      return { samples: cold.length, p50Ms: round(percentile(cold, 50), 2), maxMs: round(Math.max(...cold), 2), cachedP50Ms: round(percentile(cached, 50), 3) }
    })

    // Flood: valid-key p99 at c=10 alone, beside a flood of malformed keys (control: rejected
    // before any I/O), and beside the same rate of well-formed keys with wrong secrets; `reps`
    // rounds of the three phases, their order alternating, compared by medians.
    const flood = await section('flood', async (): Promise<NonNullable<BenchResults['flood']>> => {
      const floodSpec = (keysFile: string): FloodSpec => ({
        url: `http://127.0.0.1:${gwD.port}${MCP_PATH}`,
        rate: opts.floodRate,
        // A second longer than the valid run, so the flood covers all of it.
        durationS: opts.durationS + 1,
        keysFile,
        sources: opts.floodSources,
        body: BODY,
        headers: BASE_HEADERS
      })
      const validSpec = spec('mcpgate', 10, opts.durationS)
      const phases: FloodPhase[] = ['alone', 'control', 'wrongSecret']
      const loads: Record<FloodPhase, LoadResult[]> = { alone: [], control: [], wrongSecret: [] }
      const cpu: Record<FloodPhase, Array<number | null>> = { alone: [], control: [], wrongSecret: [] }
      const validRun = async (phase: FloodPhase): Promise<void> => {
        const cpu0 = cpuTimeOf(gwD.pid)
        const load = await runLoad(validSpec, opts.tool)
        const cpu1 = cpuTimeOf(gwD.pid)
        loads[phase].push(load)
        cpu[phase].push(cpu0 === null || cpu1 === null || load.requests === 0 ? null : round((cpu1 - cpu0) / load.requests, 1))
      }
      const floods: Record<'control' | 'wrongSecret', FloodResult[]> = { control: [], wrongSecret: [] }
      const rounds = Math.max(1, opts.floodRounds)
      for (let r = 0; r < rounds; r++) {
        // Fresh wrong secrets every round: the gateway's negative cache must not answer a round
        // with the previous round's keys (its failure budgets do carry over, as under a long flood).
        const keysFile = {
          control: malformedFile,
          wrongSecret: writeKeysFile(join(dir, `wrong-keys-${r}.txt`), wrongSecretKeys(victims, 20_000))
        }
        for (const phase of r % 2 === 0 ? phases : [...phases].reverse()) {
          let line = ''
          if (phase === 'alone') {
            await validRun('alone')
          } else {
            const f = await startFlood(ctx, floodSpec(keysFile[phase]))
            await validRun(phase)
            const res = await f.done
            floods[phase].push(res)
            line = `; flood ${res.sent} sent, ${res.skipped} skipped, ${Object.entries(res.statuses).map(([k, n]) => `${k}: ${n}`).join(', ')}; generator ${res.sent > 0 ? round(res.cpuUs / res.sent, 1) : '?'} µs CPU/req`
          }
          const load = loads[phase].at(-1) as LoadResult
          log(`  round ${r + 1}/${rounds} ${phase}: ${Math.round(load.rps)} req/s, p99 ${load.p99} µs, ${cpu[phase].at(-1) ?? '?'} µs CPU/valid${line}`)
        }
      }
      const figures = (phase: FloodPhase): FloodPhaseFigures => {
        const runs = loads[phase]
        const measuredCpu = cpu[phase].filter((v): v is number => v !== null)
        return {
          runs: runs.map((l, i) => ({ rps: round(l.rps, 0), p99: l.p99, cpuUsPerValid: cpu[phase][i] ?? null })),
          rps: spread(runs.map(l => round(l.rps, 0))),
          p99: spread(runs.map(l => l.p99)),
          cpuUsPerValid: measuredCpu.length === 0 ? null : spread(measuredCpu)
        }
      }
      const byPhase = { alone: figures('alone'), control: figures('control'), wrongSecret: figures('wrongSecret') }
      const ratiosToAlone = (phase: FloodPhase): number[] => cpu[phase].flatMap((c, r) => {
        const alone = cpu.alone[r]
        return c === null || alone === null || alone === undefined ? [] : [round(c / alone, 2)]
      })
      const alone = byPhase.alone.p99.median
      return {
        rate: opts.floodRate,
        sources: opts.floodSources,
        connections: validSpec.connections,
        rounds,
        phases: byPhase,
        p99ChangePct: round((byPhase.wrongSecret.p99.median - alone) / alone * 100, 1),
        controlP99ChangePct: round((byPhase.control.p99.median - alone) / alone * 100, 1),
        cpuRatioPerRound: { control: ratiosToAlone('control'), wrongSecret: ratiosToAlone('wrongSecret') },
        controlFlood: sumFloods(floods.control),
        wrongSecretFlood: sumFloods(floods.wrongSecret),
        validNon2xx: phases.reduce((n, p) => n + loads[p].reduce((m, l) => m + l.non2xx, 0), 0)
      }
    })

    // Stop the single-node targets before the replicas start, so they do not share memory or CPU.
    for (const c of children.splice(1)) await c.stop()
    const revocation = await section('revocation across replicas', () => measureRevocation(ctx, upstream.port))
    const streams = await runStreamSections(streamsCtx(ctx), upstream.port, section, false, opts.mode)

    const results: BenchResults = {
      mode: opts.mode,
      startedAt: new Date(started).toISOString(),
      finishedAt: new Date().toISOString(),
      elapsedS: round((Date.now() - started) / 1000, 1),
      machine: { ...m0, loadavgEnd: machine().loadavg },
      tools: {
        load: opts.tool,
        wrk: opts.tool === 'wrk' ? commandVersion('wrk', ['-v']) : null,
        nginx: hasCommand('nginx') ? commandVersion('nginx', ['-v']) : null,
        taskset: TASKSET
      },
      settings: {
        mode: opts.mode,
        durationS: opts.durationS,
        warmupS: opts.warmupS,
        reps: opts.reps,
        concurrency: opts.concurrency,
        totalKeys: opts.totalKeys,
        activeKeys: opts.activeKeys,
        coldKeys: opts.coldKeys,
        floodVictims: opts.floodVictims,
        floodRate: opts.floodRate,
        floodSources: opts.floodSources,
        floodRounds: opts.floodRounds,
        sseSingleRuns: opts.sseSingleRuns,
        sseRounds: opts.sseRounds,
        sseConcurrent: opts.sseConcurrent,
        revocationTrials: opts.revocationTrials,
        replicas: opts.replicas,
        nice,
        nodeFlags: opts.nodeFlags,
        tool: opts.tool,
        pinning: ctx.cpuServer === undefined
          ? 'none (fewer than 2 cores or no taskset)'
          : 'load generator, runner, proxies\' upstream, flood generator, redis: core 0; server under test: core 1',
        bulkArgon2: `m=${CHEAP_ARGON2.memoryCost} KiB, t=${CHEAP_ARGON2.timeCost}, p=${CHEAP_ARGON2.parallelism}`,
        defaultArgon2: `m=${DEFAULT_ARGON2.memoryCost} KiB, t=${DEFAULT_ARGON2.timeCost}, p=${DEFAULT_ARGON2.parallelism}`
      },
      skipped,
      throughput,
      rssMB,
      heapMB,
      sse,
      coldKey,
      flood,
      warm100k,
      streams,
      revocation,
      errors,
      checks: []
    }
    results.checks = evaluate(results)
    if (opts.out !== null) writeFileSync(opts.out, renderMarkdown(results))
    if (opts.jsonOut !== null) writeFileSync(opts.jsonOut, JSON.stringify(results, null, 2) + '\n')
    log(`done in ${results.elapsedS} s${opts.out !== null ? `: ${opts.out}` : ''}`)
    return results
  } finally {
    for (const c of children.reverse()) await c.stop().catch(() => {})
    for (const s of stores) await s.close().catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  }
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href
if (isMain) {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      reps: { type: 'string' },
      duration: { type: 'string' },
      'node-flags': { type: 'string' },
      nice: { type: 'string' },
      tool: { type: 'string' },
      out: { type: 'string' },
      only: { type: 'string' }
    },
    strict: true
  })
  const base = values.quick ? QUICK : FULL
  const opts: BenchOptions = {
    ...base,
    reps: values.reps !== undefined ? Number(values.reps) : base.reps,
    durationS: values.duration !== undefined ? Number(values.duration) : base.durationS,
    nodeFlags: values['node-flags'] !== undefined ? values['node-flags'].split(/\s+/).filter(f => f !== '') : base.nodeFlags,
    nice: values.nice !== undefined ? Number(values.nice) : base.nice,
    tool: values.tool === 'autocannon' || values.tool === 'wrk' ? values.tool : base.tool,
    out: values.out ?? base.out,
    jsonOut: values.out !== undefined ? values.out.replace(/\.md$/, '') + '.json' : base.jsonOut
  }
  if (values.only === 'revocation') {
    // One section alone, printed as JSON (RESULTS.md is only written by whole runs).
    process.stdout.write(JSON.stringify(await revocationOnly(opts), null, 2) + '\n')
  } else if (values.only === 'streams') {
    process.stdout.write(JSON.stringify(await streamsOnly(opts), null, 2) + '\n')
  } else {
    await runBench(opts)
  }
}
