// What a bench run is about and what it produces: the targets, the request every target is sent,
// the options of a run and the shape of its results (results.json). Shared by the runner
// (bench/run.ts), the report (bench/report.ts), the targets' evaluation (bench/targets.ts) and the
// helpers that send the bench's request (variants.ts, instructions.ts, profile.ts); it imports no
// runtime code of theirs, so none of them imports another through it.
import type { FloodResult } from './flood.ts'
import type { LoadResult } from './load.ts'
import type { machine } from './procs.ts'
import type { Spread } from './stats.ts'
import type { StreamsResults } from './streams.ts'
export type TargetName = 'direct' | 'bare' | 'nginx' | 'mcpgate' | 'mcpgate100k' | 'floor'

export const TARGET_LABELS: Record<TargetName, string> = {
  direct: '(a) upstream direct',
  bare: '(b) bare @fastify/http-proxy',
  nginx: '(c) nginx',
  mcpgate: '(d) mcpgate, cached key',
  mcpgate100k: '(e) mcpgate, 100k keys / 10k active',
  floor: '(f) reference: node:http + undici, nothing else'
}

export interface BenchOptions {
  mode: 'full' | 'quick'
  durationS: number
  warmupS: number
  reps: number
  concurrency: number[]
  /** Keys in the store of target (e), all cached before it is measured. */
  totalKeys: number
  /** Distinct keys target (e)'s load rotates through. */
  activeKeys: number
  coldKeys: number
  floodVictims: number
  /** Bad-key requests per second during the flood runs (open loop). */
  floodRate: number
  floodSources: number
  /** Rounds of the flood's three phases: its figure is a p99, the noisiest figure of a run. */
  floodRounds: number
  sseSingleRuns: number
  sseRounds: number
  sseConcurrent: number
  revocationTrials: number
  replicas: number
  /** Open idle GET streams on one gateway (bench/streams.ts (a)); 0 skips the section. */
  idleStreams: number
  /** Server ids those streams are spread over. */
  idleStreamServers: number
  /** Key deletes with a stream open through every replica (bench/streams.ts (b)); 0 skips it. */
  streamCutTrials: number
  /** Niceness of every bench process (negative: less disturbed by other work on the machine). */
  nice: number
  /** Flags for every Node server process (upstream, bare proxy, mcpgate). */
  nodeFlags: string[]
  tool: 'wrk' | 'autocannon'
  /** Markdown report path; null writes nothing. */
  out: string | null
  jsonOut: string | null
  log: (line: string) => void
}

/** What one measured load run adds to the load generator's figures. */
export interface MeasuredRun extends LoadResult {
  cpuUsPerReq: number | null
  /** % of the server core's and the load core's time taken by the hypervisor during the run. */
  stealPct: { server: number | null, load: number | null }
}

export interface ThroughputCell {
  runs: MeasuredRun[]
  rps: Spread
  p50: Spread
  p99: Spread
  /** Server-side CPU time (all its processes and threads) per request, µs. */
  cpuUsPerReq: Spread | null
}

export interface SseFigures {
  /** 1 stream at a time. */
  single: { ttfbMs: Spread, gapP50Ms: number, gapP99Ms: number, gapMaxMs: number, totalMs: number }
  /** `sseConcurrent` streams at once. */
  concurrent: { streams: number, ttfbP50Ms: number, ttfbP99Ms: number, gapP50Ms: number, gapP99Ms: number, gapMaxMs: number, totalP50Ms: number }
}

/** The valid load alone, beside malformed keys (control), beside wrong secrets. */
export type FloodPhase = 'alone' | 'control' | 'wrongSecret'

export interface FloodPhaseFigures {
  /** The valid load's run of each round, in round order. */
  runs: Array<{ rps: number, p99: number, cpuUsPerValid: number | null }>
  rps: Spread
  p99: Spread
  /** The gateway's CPU (all its threads: argon2 included) per valid request, µs. */
  cpuUsPerValid: Spread | null
}

export interface TargetCheck {
  name: string
  target: string
  value: string
  met: boolean | null
}

export interface BenchResults {
  mode: 'full' | 'quick'
  startedAt: string
  finishedAt: string
  elapsedS: number
  machine: ReturnType<typeof machine> & { loadavgEnd: number[] }
  tools: { load: 'wrk' | 'autocannon', wrk: string | null, nginx: string | null, taskset: boolean }
  settings: Omit<BenchOptions, 'log' | 'out' | 'jsonOut' | 'idleStreams' | 'idleStreamServers' | 'streamCutTrials'> & { pinning: string, bulkArgon2: string, defaultArgon2: string }
  skipped: Partial<Record<TargetName, string>>
  throughput: Partial<Record<TargetName, Record<number, ThroughputCell>>>
  rssMB: Partial<Record<TargetName, { idle: number | null, underLoad: number | null }>> & { mcpgate100kCachedIdle?: number | null }
  /** Where mcpgate's memory is (MB): its V8 heap, live and committed, beside the RSS, at two moments. */
  heapMB?: Record<string, { rss: number, heapUsed: number, heapTotal: number } | null>
  sse: Partial<Record<TargetName, SseFigures>>
  coldKey: { samples: number, p50Ms: number, maxMs: number, cachedP50Ms: number } | null
  flood: {
    rate: number
    sources: number
    /** wrk connections of the valid load. */
    connections: number
    /** Rounds of the three phases, the phase order alternating (forward, reverse, …). */
    rounds: number
    phases: Record<FloodPhase, FloodPhaseFigures>
    /** The target: (median wrong-secret p99 − median alone p99) / median alone p99, %. */
    p99ChangePct: number
    /** The same for the control flood: how much of the change is plain request load. */
    controlP99ChangePct: number
    /**
     * Per round, the gateway's CPU per valid request beside the flood / alone in the same round:
     * less noisy than a p99 (it cancels the machine's slow drifts), and it counts what the flood
     * costs the gateway, argon2 included.
     */
    cpuRatioPerRound: { control: number[], wrongSecret: number[] }
    /** Summed over the rounds. */
    controlFlood: FloodResult
    wrongSecretFlood: FloodResult
    validNon2xx: number
  } | null
  warm100k: { keys: number, seconds: number, retries: number }
  /** Open streams (issue 21): figures and settings, and which run they come from. */
  streams?: StreamsResults | null
  revocation: { replicas: number, trials: number, perReplica: Spread & { p50: number, p99: number }, everywhere: { p50: number, p99: number, max: number }, timeouts: number, refusals: Record<string, number>, warmRetries: number, pollRttMs: { p50: number, p99: number } } | null
  /** Sections that failed (the rest of the report is still written): section → error. */
  errors: Record<string, string>
  checks: TargetCheck[]
}

/** The bench's request body: a JSON-RPC `tools/call` of the tool `echo` (100 bytes). */
export const BODY = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: 'hello' } } })
