// Issue 21's stream figures, two bench sections:
// (a) idle streams: thousands of open, silent Streamable HTTP GET streams on ONE gateway process —
//     its RSS and file descriptors with them, and the c=10 POST load beside them against the same
//     load without them (same gateway, same run, alternating order);
// (b) stream cuts: 3 replicas on one Redis; a key with one open stream through each replica is
//     deleted in the store, and the time from the delete's completion to each stream's end (the
//     client reads the end of the body) is measured.
// Started from bench/run.ts (runBench, and `--only streams`, which merges them into an earlier
// run's results); every process is a child of the runner, bound to 127.0.0.1, and stopped here.
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { buildConfig } from '../config/load.ts'
import { openStore } from '../core/store/open.ts'
import { runLoad, type LoadResult, type LoadSpec } from './load.ts'
import {
  BENCH_DIR, REPO_DIR, cpuTimeOf, hasCommand, machine, maxRssDuring, memoryOf, pinProcess, renice, rssOf, startNode, type NodeChild
} from './procs.ts'
import { CHEAP_ARGON2, createKeys, createUsers, type SeededKey } from './seed.ts'
import type { CloseResult, HoldSpec, OpenResult } from './stream-holder.ts'
import { percentile, round, spread, type Spread } from './stats.ts'

/** What the two sections need from the runner. */
export interface StreamsCtx {
  dir: string
  cpuLoad: number | undefined
  cpuServer: number | undefined
  nodeFlags: string[]
  tool: 'wrk' | 'autocannon'
  durationS: number
  warmupS: number
  reps: number
  /** Streams asked for in (a); fewer when the gateway's file-descriptor limit cannot hold them. */
  idleStreams: number
  /** Server ids the streams of (a) are spread over, each with a stream budget of its share. */
  idleStreamServers: number
  /** Trials of (b). */
  streamCutTrials: number
  replicas: number
  /** The POST every throughput run sends (run.ts), and its headers without the key. */
  body: string
  headers: Record<string, string>
  log: (line: string) => void
}

/** The fd limit asked for the processes of (a): the gateway holds 2 descriptors per stream. */
export const STREAM_FD_LIMIT = 65_536
/** Descriptors kept free beside the streams: the c=10 load (both sides), probes, a scrape, logs. */
const FD_MARGIN = 100
/** Connections the holder opens at once (the gateway's listen backlog is 511). */
const OPEN_CONCURRENCY = 200
const MB = 1024 * 1024

export interface LoadFigures {
  rps: Spread
  p50: Spread
  p99: Spread
  /** The gateway's CPU (all threads) per request, µs. */
  cpuUsPerReq: Spread | null
}

export interface IdleStreamFigures {
  asked: number
  /** Streams opened per repetition (the busy probes excluded). */
  opened: number[]
  servers: number
  /** Each server's maxStreams in the bench config: its share of the streams, so the probe past it is refused. */
  perServerLimit: number
  /** How the processes' descriptor limit was set, and what the gateway got. */
  fdLimit: { how: string, gateway: number | null }
  /** Why fewer streams than asked were opened (null: all of them). */
  capped: string | null
  openMs: Spread
  openFailures: Record<string, number>
  /** Held streams the gateway or the upstream ended on their own: none is expected. */
  endedWhileHeld: number
  /**
   * Each repetition on a fresh gateway. Before: after its load run alone; with: all streams open;
   * after: closed and settled. Arrays: one value per repetition; the rest medians over them.
   */
  gateway: {
    fdsBefore: number
    fdsWith: number[]
    fdsAfter: number[]
    /**
     * Connections the upstream still had from the gateway once the streams were gone (its
     * descriptors after − before the streams): idle sockets the gateway kept.
     */
    upstreamConnectionsAfter: number[]
    fdsPerStream: number
    rssBeforeMB: number
    rssWithMB: number[]
    /** Max RSS sampled during the load runs beside the streams (max over repetitions). */
    rssMaxBesideMB: number
    rssAfterMB: number[]
    kbPerStream: number
    heapUsedBeforeMB: number | null
    heapUsedWithMB: number | null
    heapKbPerStream: number | null
    /** What the gateway's metrics said was open while the streams were held. */
    openStreamsGauge: number | null
  }
  /** The other two processes holding the streams, for scale (with the streams open, last repetition). */
  holderRssMB: number | null
  upstreamFds: number | null
  /** One more stream per server while its budget is spent: status / code → count, and the slowest answer. */
  busyProbe: { answers: Record<string, number>, retryAfter: boolean, maxMs: number }
  /**
   * POST `connections` c=10 to a server holding its share of the streams, alone and beside them;
   * and beside them to another server of the same gateway that holds none (`otherPath`).
   */
  load: {
    connections: number
    path: string
    otherPath: string
    alone: LoadFigures
    beside: LoadFigures
    besideOther: LoadFigures
    /** beside / alone, of the medians. */
    ratio: { rps: number, p50: number, p99: number, cpu: number | null }
    ratioOther: { rps: number, p50: number, p99: number, cpu: number | null }
    /** In each repetition, beside / alone of the p99 (the pair ran back to back). */
    p99RatioPerRep: number[]
    non2xx: number
    errors: number
  }
}

export interface StreamCutFigures {
  replicas: number
  trials: number
  /** ms from the delete's completion to each stream's end, over all replica-trials. */
  cut: { p50: number, p99: number, max: number, min: number }
  /** Per trial, the slowest replica. */
  everywhere: { p50: number, p99: number, max: number }
  /** The delete itself (a Redis round trip, the invalidation published). */
  deleteMs: { p50: number, p99: number }
  /** Streams whose end the client read as a clean end of the body (the terminating chunk). */
  cleanEnds: number
  /** Streams cut without a clean end (reset), and streams still open after 5 s. */
  resets: number
  timeouts: number
}

export interface StreamsResults {
  /** Which run the figures come from (`--only streams` merges them into an earlier run's results). */
  run: { startedAt: string, finishedAt: string, elapsedS: number, commit: string | null, mode: 'full' | 'quick', separate: boolean, loadavg: number[] }
  settings: { idleStreams: number, idleStreamServers: number, streamCutTrials: number, durationS: number, reps: number, replicas: number }
  idle: IdleStreamFigures | null
  cuts: StreamCutFigures | null
}

type Section = <T>(name: string, fn: () => Promise<T>) => Promise<T | null>

export const IDLE_SECTION = 'idle streams'
export const CUTS_SECTION = 'stream cuts across replicas'

/** The checked-out commit, `+dirty` when the code the bench compiles has uncommitted changes. */
export function commitOf (): string | null {
  const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_DIR, encoding: 'utf8' })
  if (head.status !== 0) return null
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'gateway', 'core', 'config', 'cli', 'bench/*.ts'], { cwd: REPO_DIR, encoding: 'utf8' })
  return head.stdout.trim() + (dirty.stdout.trim() === '' ? '' : '+dirty')
}

/** Both sections, each failing on its own (errors land in the runner's `errors`). */
export async function runStreamSections (ctx: StreamsCtx, upstreamPort: number, section: Section, separate: boolean, mode: 'full' | 'quick'): Promise<StreamsResults> {
  const started = Date.now()
  const timed = async <T>(fn: () => Promise<T>): Promise<T> => {
    const t0 = performance.now()
    const out = await fn()
    ctx.log(`  done in ${round((performance.now() - t0) / 1000, 1)} s`)
    return out
  }
  const idle = ctx.idleStreams > 0 ? await section(IDLE_SECTION, () => timed(() => measureIdleStreams(ctx))) : null
  const cuts = ctx.streamCutTrials > 0 ? await section(CUTS_SECTION, () => timed(() => measureStreamCuts(ctx, upstreamPort))) : null
  return {
    run: {
      startedAt: new Date(started).toISOString(),
      finishedAt: new Date().toISOString(),
      elapsedS: round((Date.now() - started) / 1000, 1),
      commit: commitOf(),
      mode,
      separate,
      loadavg: machine().loadavg
    },
    settings: {
      idleStreams: ctx.idleStreams,
      idleStreamServers: ctx.idleStreamServers,
      streamCutTrials: ctx.streamCutTrials,
      durationS: ctx.durationS,
      reps: ctx.reps,
      replicas: ctx.replicas
    },
    idle,
    cuts
  }
}

/**
 * `prlimit --nofile=N:N` in front of a process when this machine lets us raise the limit that
 * far (raising a hard limit needs CAP_SYS_RESOURCE); otherwise nothing, and the processes keep
 * the runner's hard limit (Node raises its soft limit to it at start).
 */
function fdLimitWrapper (): { wrapper: string[] | undefined, how: string } {
  const arg = `--nofile=${STREAM_FD_LIMIT}:${STREAM_FD_LIMIT}`
  if (hasCommand('prlimit') && spawnSync('prlimit', [arg, '--', 'true'], { stdio: 'ignore' }).status === 0) {
    return { wrapper: ['prlimit', arg, '--'], how: `prlimit ${arg}` }
  }
  const hard = spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim()
  return { wrapper: undefined, how: `could not be raised to ${STREAM_FD_LIMIT} (prlimit: not permitted, no CAP_SYS_RESOURCE); hard limit ${hard}` }
}

/** A process's soft limit of open files, from /proc. */
function fdLimitOf (pid: number): number | null {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))
    if (m === null) return null
    return m[1] === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(m[1])
  } catch {
    return null
  }
}

export function fdsOf (pid: number): number | null {
  try {
    return readdirSync(`/proc/${pid}/fd`).length
  } catch {
    return null
  }
}

/** Sends `msg` to a child and resolves with its answer's `key` field (bounded). */
function ask<T> (child: NodeChild, msg: unknown, key: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.proc.off('message', onMessage); reject(new Error(`${child.name} did not answer ${JSON.stringify(Object.keys(msg as object))} within ${timeoutMs} ms`)) }, timeoutMs)
    const onMessage = (m: Record<string, unknown>) => {
      if (m?.[key] === undefined && m?.error === undefined) return
      clearTimeout(timer)
      child.proc.off('message', onMessage)
      if (m.error !== undefined) reject(new Error(`${child.name}: ${String(m.error)}`))
      else resolve(m[key] as T)
    }
    child.proc.on('message', onMessage)
    child.proc.send(msg as object)
  })
}

/** GET that expects an immediate answer (the busy probe): status, code, Retry-After, ms. */
function probe (port: number, path: string, key: string): Promise<{ status: number, code: string, retryAfter: boolean, ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now()
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', agent: false, headers: { accept: 'text/event-stream', authorization: `Bearer ${key}` } }, res => {
      const ms = performance.now() - t0
      const status = res.statusCode ?? 0
      const retryAfter = res.headers['retry-after'] !== undefined
      if (status === 200) {
        // The budget did not refuse it: a stream, not an answer. Closed at once.
        req.destroy()
        resolve({ status, code: 'stream opened', retryAfter, ms })
        return
      }
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      // The error's code, wherever the envelope puts it (JSON-RPC on MCP routes).
      res.on('end', () => resolve({ status, code: /MCPGATE_[A-Z_]+/.exec(body)?.[0] ?? body.slice(0, 80), retryAfter, ms }))
    })
    req.setTimeout(10_000, () => req.destroy(new Error(`busy probe ${path}: no answer within 10 s`)))
    req.on('error', reject)
    req.end()
  })
}

/** Sum of the gateway's `mcpgate_upstream_open{kind="stream"}` gauge (its /metrics on the gateway port). */
async function openStreamsGauge (port: number): Promise<number | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) })
    if (res.status !== 200) return null
    let sum = 0
    for (const line of (await res.text()).split('\n')) {
      if (line.startsWith('mcpgate_upstream_open{') && line.includes('kind="stream"')) sum += Number(line.slice(line.lastIndexOf(' ') + 1))
    }
    return sum
  } catch {
    return null
  }
}

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

/**
 * Waits (bounded) until the gateway counts no open stream and its descriptors are back near `fds`,
 * or have not moved for 2 s (descriptors it keeps are then reported, not waited for).
 */
async function drained (gw: NodeChild, fds: number, timeoutMs: number): Promise<{ gauge: number | null, fds: number | null }> {
  const deadline = performance.now() + timeoutMs
  let last: number | null = null
  let since = performance.now()
  for (;;) {
    const gauge = await openStreamsGauge(gw.port)
    const now = fdsOf(gw.pid)
    const t = performance.now()
    if (now !== last) { last = now; since = t }
    const settled = gauge === 0 || gauge === null
    if (settled && now !== null && (now <= fds + 20 || t - since >= 2000)) return { gauge, fds: now }
    if (t > deadline) return { gauge, fds: now }
    await sleep(100)
  }
}

function loadFigures (runs: Array<{ load: LoadResult, cpu: number | null }>): LoadFigures {
  const cpu = runs.map(r => r.cpu).filter((v): v is number => v !== null)
  return {
    rps: spread(runs.map(r => round(r.load.rps, 0))),
    p50: spread(runs.map(r => r.load.p50)),
    p99: spread(runs.map(r => r.load.p99)),
    cpuUsPerReq: cpu.length === 0 ? null : spread(cpu)
  }
}

/** (a) */
export async function measureIdleStreams (ctx: StreamsCtx): Promise<IdleStreamFigures> {
  const { log } = ctx
  const limit = fdLimitWrapper()
  const servers = Math.max(1, ctx.idleStreamServers)
  const children: NodeChild[] = []
  try {
    // Its own upstream (the shared one stays as it is): it holds the other end of every stream.
    const upstream = await startNode({ name: 'stream upstream', script: join(BENCH_DIR, 'upstream.ts'), cpu: ctx.cpuLoad, nodeFlags: ctx.nodeFlags, wrapper: limit.wrapper, logFile: join(ctx.dir, 'stream-upstream.log') })
    children.push(upstream)
    const storeDoc = { type: 'sqlite', path: join(ctx.dir, 'streams.db') }
    const ids = Array.from({ length: servers }, (_, i) => `s${i}`)
    /** A server with no streams: what the streams cost requests to other servers of the gateway. */
    const quiet = 'quiet'
    let share = Math.floor(ctx.idleStreams / servers)
    const configDoc = (perServer: number) => ({
      gateway: { host: '127.0.0.1', port: 0 },
      store: storeDoc,
      servers: [...ids, quiet].map(id => ({ id, url: `http://127.0.0.1:${upstream.port}/idle`, access: 'everyone', upstream: { maxStreams: perServer } }))
    })
    const store = openStore(buildConfig(configDoc(1)).store)
    let key: SeededKey
    try {
      key = (await createKeys(store, await createUsers(store, 1, 'streams'), 1, CHEAP_ARGON2))[0] as SeededKey
    } finally {
      await store.close()
    }

    const startGateway = async (perServer: number): Promise<NodeChild> => {
      const file = join(ctx.dir, 'streams-gateway.config.json')
      writeFileSync(file, JSON.stringify(configDoc(perServer)))
      return startNode({ name: 'streams gateway', script: join(BENCH_DIR, 'gateway-target.ts'), args: ['--config', file], cpu: ctx.cpuServer, nodeFlags: ctx.nodeFlags, wrapper: limit.wrapper, logFile: join(ctx.dir, 'streams-gateway.log'), timeoutMs: 60_000 })
    }
    const spec = (durationS: number, serverId = ids[0] as string): LoadSpec => ({
      url: `http://127.0.0.1:${gw.port}/mcp-connect/${serverId}`,
      connections: 10,
      durationS,
      method: 'POST',
      body: ctx.body,
      headers: { ...ctx.headers, authorization: `Bearer ${key.key}` },
      cpu: ctx.cpuLoad,
      workDir: ctx.dir
    })
    let gw = await startGateway(share)
    children.push(gw)
    const warmUp = async () => {
      if (ctx.warmupS <= 0) return
      await runLoad(spec(ctx.warmupS), ctx.tool)
      await runLoad(spec(1), ctx.tool)
      await runLoad(spec(1, quiet), ctx.tool)
    }
    await warmUp()

    // What the gateway can hold: 2 descriptors a stream, beside the ones it has and a margin.
    const gatewayLimit = fdLimitOf(gw.pid)
    const base = fdsOf(gw.pid)
    let capped: string | null = null
    if (gatewayLimit !== null && base !== null) {
      const fits = Math.floor((gatewayLimit - base - FD_MARGIN) / 2 / servers)
      if (fits < share) {
        capped = `the gateway's limit of ${gatewayLimit.toLocaleString('en-US')} open files (${limit.how}) holds ${(fits * servers).toLocaleString('en-US')} streams beside its ${base} other descriptors and a margin of ${FD_MARGIN}: 2 per stream (client and upstream socket)`
        log(`  ${capped}`)
        share = fits
        // The budgets must match what is opened, so the probe past them is refused.
        await gw.stop()
        children.splice(children.indexOf(gw), 1)
        gw = await startGateway(share)
        children.push(gw)
        await warmUp()
      }
    }
    const streams = share * servers
    const holder = await startNode({ name: 'stream holder', script: join(BENCH_DIR, 'stream-holder.ts'), cpu: ctx.cpuLoad, wrapper: limit.wrapper, logFile: join(ctx.dir, 'stream-holder.log') })
    children.push(holder)

    const alone: Array<{ load: LoadResult, cpu: number | null }> = []
    const beside: Array<{ load: LoadResult, cpu: number | null }> = []
    const besideOther: Array<{ load: LoadResult, cpu: number | null }> = []
    const opened: number[] = []
    const openMs: number[] = []
    const openFailures: Record<string, number> = {}
    const perRep: Array<{ fdsBefore: number, fdsWith: number, fdsAfter: number, upstreamFdsBefore: number, upstreamFdsAfter: number, rssBefore: number, rssWith: number, rssAfter: number, heapBefore: number | null, heapWith: number | null, gauge: number | null }> = []
    let rssMaxBeside = 0
    let endedWhileHeld = 0
    let holderRss: number | null = null
    let upstreamFds: number | null = null
    const busy = { answers: {} as Record<string, number>, retryAfter: true, maxMs: 0 }

    const loadRun = async (into: typeof alone, serverId?: string): Promise<number | null> => {
      const cpu0 = cpuTimeOf(gw.pid)
      const { result, maxRss } = await maxRssDuring(gw.pid, runLoad(spec(ctx.durationS, serverId), ctx.tool))
      const cpu1 = cpuTimeOf(gw.pid)
      into.push({ load: result, cpu: cpu0 === null || cpu1 === null || result.requests === 0 ? null : round((cpu1 - cpu0) / result.requests, 1) })
      return maxRss
    }
    const describe = (r: { load: LoadResult, cpu: number | null }) => `${Math.round(r.load.rps)} req/s, p50 ${r.load.p50} µs, p99 ${r.load.p99} µs, ${r.cpu ?? '?'} µs CPU/req${r.load.non2xx + r.load.errors > 0 ? `, ${r.load.non2xx} non-2xx, ${r.load.errors} errors` : ''}`

    // Every repetition on a fresh, warmed-up gateway: what the streams leave behind (see the
    // figures after they close) would otherwise be part of the next repetition's "alone".
    for (let rep = 0; rep < ctx.reps; rep++) {
      if (rep > 0) {
        await gw.stop()
        children.splice(children.indexOf(gw), 1)
        gw = await startGateway(share)
        children.push(gw)
        await warmUp()
      }
      await loadRun(alone)
      log(`  rep ${rep + 1}/${ctx.reps} alone: ${describe(alone.at(-1) as typeof alone[number])}`)
      // (Up to 10 idle upstream sockets of the load run, kept 4 s by undici, may count here.)
      const fdsBefore = fdsOf(gw.pid) ?? NaN
      const upstreamFdsBefore = fdsOf(upstream.pid) ?? NaN
      const heapBefore = await memoryOf(gw)
      const rssBefore = rssOf(gw.pid) ?? NaN
      const o = await ask<OpenResult>(holder, { open: { port: gw.port, paths: ids.map(id => `/mcp-connect/${id}`), key: key.key, streams, concurrency: OPEN_CONCURRENCY, timeoutMs: 30_000 } satisfies HoldSpec }, 'opened', 30_000 + streams * 20)
      opened.push(o.opened)
      openMs.push(o.ms)
      for (const [k, n] of Object.entries(o.failed)) openFailures[k] = (openFailures[k] ?? 0) + n
      // Past the budget: one more stream per server is refused at once.
      for (const id of ids) {
        const p = await probe(gw.port, `/mcp-connect/${id}`, key.key)
        const label = `${p.status} ${p.code}`
        busy.answers[label] = (busy.answers[label] ?? 0) + 1
        busy.retryAfter &&= p.retryAfter
        busy.maxMs = Math.max(busy.maxMs, round(p.ms, 2))
      }
      await sleep(500)
      const gauge = await openStreamsGauge(gw.port)
      const fdsWith = fdsOf(gw.pid) ?? NaN
      const rssWith = rssOf(gw.pid) ?? NaN
      const heap = await memoryOf(gw)
      holderRss = rssOf(holder.pid)
      upstreamFds = fdsOf(upstream.pid)
      log(`  rep ${rep + 1}/${ctx.reps}: ${o.opened}/${streams} streams open in ${o.ms} ms${Object.keys(o.failed).length > 0 ? ` (failed: ${JSON.stringify(o.failed)})` : ''}; gateway ${fdsWith} fds (${fdsBefore} before), RSS ${round(rssWith / MB, 1)} MB (${round(rssBefore / MB, 1)} before), gauge ${gauge}; probes ${JSON.stringify(busy.answers)}`)
      // Beside the streams: the same server and another one, in alternating order.
      for (const other of rep % 2 === 0 ? [false, true] : [true, false]) {
        const maxRss = await loadRun(other ? besideOther : beside, other ? quiet : undefined)
        if (maxRss !== null) rssMaxBeside = Math.max(rssMaxBeside, maxRss)
        log(`  rep ${rep + 1}/${ctx.reps} beside ${o.opened} streams, POST to ${other ? `${quiet} (no streams)` : `${ids[0] as string} (${share} streams)`}: ${describe((other ? besideOther : beside).at(-1) as typeof beside[number])}`)
      }
      const c = await ask<CloseResult>(holder, { close: true }, 'closed', 30_000)
      endedWhileHeld += c.endedWhileHeld
      const after = await drained(gw, fdsBefore, 30_000)
      if (after.gauge !== 0 && after.gauge !== null) throw new Error(`${after.gauge} streams still counted open 30 s after their clients left (fds ${after.fds})`)
      const upstreamFdsAfter = fdsOf(upstream.pid) ?? NaN
      perRep.push({ fdsBefore, fdsWith, fdsAfter: after.fds ?? NaN, upstreamFdsBefore, upstreamFdsAfter, rssBefore, rssWith, rssAfter: rssOf(gw.pid) ?? NaN, heapBefore: heapBefore === null ? null : heapBefore.memory.heapUsed, heapWith: heap === null ? null : heap.memory.heapUsed, gauge })
      log(`  rep ${rep + 1}/${ctx.reps}: closed; gateway ${after.fds} fds, RSS ${round((rssOf(gw.pid) ?? 0) / MB, 1)} MB; upstream ${upstreamFdsAfter} fds (${upstreamFdsBefore} before)`)
    }

    const med = (f: (r: typeof perRep[number]) => number) => percentile(perRep.map(f), 50)
    const perStream = (f: (r: typeof perRep[number]) => number) => percentile(perRep.map((r, i) => f(r) / (opened[i] as number)), 50)
    const heaps = perRep.filter((r): r is typeof r & { heapBefore: number, heapWith: number } => r.heapBefore !== null && r.heapWith !== null)
    const gauges = perRep.map(r => r.gauge).filter((v): v is number => v !== null)
    const a = loadFigures(alone)
    const b = loadFigures(beside)
    const bo = loadFigures(besideOther)
    const ratio = (x: LoadFigures) => ({
      rps: round(x.rps.median / a.rps.median, 3),
      p50: round(x.p50.median / a.p50.median, 3),
      p99: round(x.p99.median / a.p99.median, 3),
      cpu: a.cpuUsPerReq === null || x.cpuUsPerReq === null ? null : round(x.cpuUsPerReq.median / a.cpuUsPerReq.median, 3)
    })
    return {
      asked: ctx.idleStreams,
      opened,
      servers,
      perServerLimit: share,
      fdLimit: { how: limit.how, gateway: gatewayLimit },
      capped,
      openMs: spread(openMs),
      openFailures,
      endedWhileHeld,
      gateway: {
        fdsBefore: med(r => r.fdsBefore),
        fdsWith: perRep.map(r => r.fdsWith),
        fdsAfter: perRep.map(r => r.fdsAfter),
        upstreamConnectionsAfter: perRep.map(r => r.upstreamFdsAfter - r.upstreamFdsBefore),
        fdsPerStream: round(perStream(r => r.fdsWith - r.fdsBefore), 3),
        rssBeforeMB: round(med(r => r.rssBefore) / MB, 1),
        rssWithMB: perRep.map(r => round(r.rssWith / MB, 1)),
        rssMaxBesideMB: round(rssMaxBeside / MB, 1),
        rssAfterMB: perRep.map(r => round(r.rssAfter / MB, 1)),
        kbPerStream: round(perStream(r => r.rssWith - r.rssBefore) / 1024, 2),
        heapUsedBeforeMB: heaps.length === 0 ? null : round(percentile(heaps.map(r => r.heapBefore), 50) / MB, 1),
        heapUsedWithMB: heaps.length === 0 ? null : round(percentile(heaps.map(r => r.heapWith), 50) / MB, 1),
        heapKbPerStream: heaps.length === 0 ? null : round(percentile(heaps.map(r => (r.heapWith - r.heapBefore) / (opened[perRep.indexOf(r)] as number)), 50) / 1024, 2),
        openStreamsGauge: gauges.length === 0 ? null : percentile(gauges, 50)
      },
      holderRssMB: holderRss === null ? null : round(holderRss / MB, 1),
      upstreamFds,
      busyProbe: busy,
      load: {
        connections: 10,
        path: `/mcp-connect/${ids[0] as string}`,
        otherPath: `/mcp-connect/${quiet}`,
        alone: a,
        beside: b,
        besideOther: bo,
        ratio: ratio(b),
        ratioOther: ratio(bo),
        p99RatioPerRep: beside.map((r, i) => round(r.load.p99 / (alone[i] as typeof alone[number]).load.p99, 3)),
        non2xx: [...alone, ...beside, ...besideOther].reduce((n, r) => n + r.load.non2xx, 0),
        errors: [...alone, ...beside, ...besideOther].reduce((n, r) => n + r.load.errors, 0)
      }
    }
  } finally {
    for (const c of children.reverse()) await c.stop().catch(() => {})
  }
}

interface StreamEnd {
  /** performance.now() when the client read the end (or saw the reset). */
  at: number
  clean: boolean
}

/** Opens one GET stream; resolves once its 200 headers are read, with a promise of its end. */
function openStream (port: number, path: string, key: string): Promise<{ ended: Promise<StreamEnd>, destroy(): void }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', agent: false, headers: { accept: 'text/event-stream', authorization: `Bearer ${key}` } }, res => {
      // The timeout below is for the answer; an open stream is idle by design.
      req.setTimeout(0)
      if (res.statusCode !== 200) {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => { body += c })
        res.on('end', () => reject(new Error(`stream on port ${port}: status ${res.statusCode} ${body.slice(0, 200)}`)))
        return
      }
      const ended = new Promise<StreamEnd>(resolve => {
        let done = false
        const finish = (clean: boolean) => {
          if (done) return
          done = true
          resolve({ at: performance.now(), clean })
          req.destroy()
        }
        res.on('data', () => {})
        res.on('end', () => finish(true))
        res.on('error', () => finish(false))
        res.on('close', () => finish(res.complete))
      })
      resolve({ ended, destroy: () => req.destroy() })
    })
    req.setTimeout(10_000, () => req.destroy(new Error(`stream on port ${port}: no response headers within 10 s`)))
    req.on('error', reject)
    req.end()
  })
}

/** (b) */
export async function measureStreamCuts (ctx: StreamsCtx, upstreamPort: number): Promise<StreamCutFigures> {
  // The test helper starts a throwaway redis-server (no persistence, temp dir, killed with us).
  const { startRedis } = await import('../test/helpers/redis-server.ts')
  const redis = await startRedis()
  if (ctx.cpuLoad !== undefined) pinProcess(redis.pid, ctx.cpuLoad)
  renice(redis.pid)
  const doc = {
    // Each trial's key is a first use on every replica: the first-use verification rate (a flood
    // guard) is not what this section measures.
    gateway: { host: '127.0.0.1', port: 0, guards: { maxVerificationsPerSecond: 1_000_000 } },
    store: { type: 'redis', url: redis.url, prefix: 'bench-cuts:' },
    servers: [{ id: 'idle', url: `http://127.0.0.1:${upstreamPort}/idle`, access: 'everyone' }]
  }
  const store = openStore(buildConfig(doc).store)
  const replicas: NodeChild[] = []
  const open: Array<{ destroy(): void }> = []
  try {
    const file = join(ctx.dir, 'cuts.config.json')
    writeFileSync(file, JSON.stringify(doc))
    await Promise.all(Array.from({ length: ctx.replicas }, (_, i) => startNode({
      name: `cut replica ${i}`, script: join(BENCH_DIR, 'gateway-target.ts'), args: ['--config', file], cpu: ctx.cpuServer, nodeFlags: ctx.nodeFlags, logFile: join(ctx.dir, `cut-replica-${i}.log`), timeoutMs: 60_000
    }).then(r => { replicas.push(r) })))
    const [owner] = await createUsers(store, 1, 'cuts')
    const cuts: number[] = []
    const everywhere: number[] = []
    const deleteMs: number[] = []
    let cleanEnds = 0
    let resets = 0
    let timeouts = 0
    for (let trial = 0; trial < ctx.streamCutTrials; trial++) {
      const [k] = await createKeys(store, [owner as NonNullable<typeof owner>], 1, CHEAP_ARGON2)
      const key = k as SeededKey
      const streams = await Promise.all(replicas.map(r => openStream(r.port, '/mcp-connect/idle', key.key)))
      open.push(...streams)
      const d0 = performance.now()
      await store.deleteKey(key.keyId)
      const t0 = performance.now()
      deleteMs.push(t0 - d0)
      const lags = await Promise.all(streams.map(async s => {
        let timer: NodeJS.Timeout | undefined
        const end = await Promise.race([s.ended, new Promise<null>(resolve => { timer = setTimeout(() => resolve(null), 5000) })])
        clearTimeout(timer)
        if (end === null) {
          timeouts++
          s.destroy()
          return 5000
        }
        if (end.clean) cleanEnds++
        else resets++
        return end.at - t0
      }))
      open.splice(0)
      if (Math.max(...lags) > 50) ctx.log(`  trial ${trial + 1}: slow cut, ms after the delete per replica: ${lags.map(l => round(l, 1)).join(', ')}`)
      cuts.push(...lags)
      everywhere.push(Math.max(...lags))
    }
    return {
      replicas: ctx.replicas,
      trials: ctx.streamCutTrials,
      cut: { p50: round(percentile(cuts, 50), 3), p99: round(percentile(cuts, 99), 3), max: round(Math.max(...cuts), 3), min: round(Math.min(...cuts), 3) },
      everywhere: { p50: round(percentile(everywhere, 50), 3), p99: round(percentile(everywhere, 99), 3), max: round(Math.max(...everywhere), 3) },
      deleteMs: { p50: round(percentile(deleteMs, 50), 3), p99: round(percentile(deleteMs, 99), 3) },
      cleanEnds,
      resets,
      timeouts
    }
  } finally {
    for (const s of open) s.destroy()
    await Promise.all(replicas.map(r => r.stop()))
    await store.close()
    await redis.stop()
  }
}
