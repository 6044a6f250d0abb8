// `node --import tsx bench/variants.ts [--seconds 6] [--reps 3] [--connections 10,64] -- '' '--max-semi-space-size=32' '{"log":{"accessLog":false}}' …`:
// the same cached-key load on mcpgate processes that differ in Node/V8 flags ('' = none) or in
// config (a JSON object merged over the bench config's top-level sections), measured interleaved,
// reporting req/s, server CPU per request, p50, p99 and RSS; the variant `bare [flags]` is the bare
// @fastify/http-proxy of target (b), for comparison; `script:FILE [flags]` any other proxy taking
// `--upstream` (e.g. `script:bench/floor-proxy.ts`, the stack's floor); `@DIR [config]` is the
// gateway of another build of the repository (`tsc -p tsconfig.build.json --outDir DIR`, DIR
// inside the repository so that its imports resolve), with an optional JSON config after it, to
// compare code changes. A variant given several times runs in that many processes, pooled. Each
// repetition runs every variant once, in alternating order; besides medians, the CPU per request
// of each variant is divided by the first variant's in the same repetition (and its p50 taken
// from the first's), which cancels the machine's slow drifts. Used for the GC settings, the access
// log, the floor figures and the feature costs in bench/README.md.
//
// In a config variant:
// - `"$key": {"scopes": {…}}` is not config: that variant is loaded with a key of its own carrying
//   those per-tool scopes (e.g. `{"$key":{"scopes":{"bench":{"tools":["echo","search_*"]}}}}`).
//   The server's id is `bench`.
// - `"$token": true` is not config either: that variant runs in OAuth mode and is loaded with an
//   OAuth access token (a JWT for the plain key, as client_credentials issues, bench/oauth-token.ts)
//   instead of the key: `token={"$token":true}` beside `key=` measures the token path.
// - `$OTLP` anywhere in it becomes the URL of a stand-in OTLP collector (bench/otlp-sink.ts,
//   started when a variant names it): `{"telemetry":{"otlp":{"endpoint":"$OTLP"}}}`. The spans it
//   received are printed with the table.
// - `label=VARIANT` names a variant in the table (`plain={"audit":{"enabled":false}}`; a label is
//   a letter, then letters, digits, `_`, `.` or `-`).
// - A config with `gateway.limits` (rate limits, tool-call quotas) gets a key of its own, and after
//   the run the store's counters of that key and its user are printed beside the requests the
//   variant served, so a run shows that the limits were counted (and the table's NOT 2xx line
//   that none refused).
//
// `--body JSON` replaces the request (default: the bench's tools/call, bench/results.ts BODY);
// `--upstream-path /tools-500` points the server at the upstream's 500-tool tools/list answer
// (bench/upstream.ts) instead of `/mcp`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { buildConfig } from '../config/load.ts'
import { openStore } from '../core/store/open.ts'
import { counterOf, windowStart } from '../core/limits.ts'
import type { KeyScopes } from '../core/tool-scope.ts'
import { runLoad } from './load.ts'
import { BENCH_DIR, buildServers, cpuTicks, cpuTimeOf, machine, maxRssDuring, pinProcess, rssOf, startNode, type NodeChild } from './procs.ts'
import { mintAccessToken, OAUTH_CONFIG } from './oauth-token.ts'
import { BODY } from './results.ts'
import { CHEAP_ARGON2, createKeys, createUsers, type SeededKey } from './seed.ts'
import { median, percentile, round } from './stats.ts'

const { values, positionals } = parseArgs({
  options: {
    seconds: { type: 'string', default: '6' },
    reps: { type: 'string', default: '3' },
    connections: { type: 'string', default: '10,64' },
    body: { type: 'string', default: BODY },
    'upstream-path': { type: 'string', default: '/mcp' }
  },
  allowPositionals: true
})
const given = positionals.length > 0 ? positionals : ['', '--max-semi-space-size=32', '--max-semi-space-size=64']
/** `label=variant` → the label and the variant; a variant without a label is its own label. */
const named = given.map(v => {
  const m = /^([A-Za-z][\w.-]*)=(.*)$/s.exec(v)
  return m === null ? { label: v || '(none)', variant: v } : { label: m[1] as string, variant: m[2] as string }
})
const variants = named.map(n => n.variant)
const labels = named.map(n => n.label)
/** A variant starting with `{` is config; anything else is Node flags. */
const isConfig = (v: string) => v.trim().startsWith('{')
/** `@DIR {…}`: the build's directory and the config after it, if any. */
const atBuild = (v: string) => {
  const space = v.search(/\s/)
  return space < 0 ? { dir: v.slice(1), config: '' } : { dir: v.slice(1, space), config: v.slice(space).trim() }
}
const dir = mkdtempSync(join(tmpdir(), 'mcpgate-gc-'))
const [cpuLoad, cpuServer] = machine().cores >= 2 ? [0, 1] : [undefined, undefined]
if (cpuLoad !== undefined) pinProcess(process.pid, cpuLoad)
const children: NodeChild[] = []
let kept = false
try {
  buildServers()
  const upstream = await startNode({ name: 'upstream', script: join(BENCH_DIR, 'upstream.ts'), cpu: cpuLoad, logFile: join(dir, 'upstream.log') })
  children.push(upstream)
  const sink = variants.some(v => v.includes('$OTLP'))
    ? await startNode({ name: 'otlp sink', script: join(BENCH_DIR, 'otlp-sink.ts'), cpu: cpuLoad, logFile: join(dir, 'otlp-sink.log') })
    : null
  if (sink !== null) children.push(sink)
  const otlpUrl = sink === null ? '' : `http://127.0.0.1:${sink.port}/v1/traces`
  const doc = (extra: Record<string, Record<string, unknown>>) => ({
    ...extra,
    gateway: { ...extra.gateway, host: '127.0.0.1', port: 0 },
    store: { type: 'sqlite', path: join(dir, 'v.db') },
    servers: [{ id: 'bench', url: `http://127.0.0.1:${upstream.port}${values['upstream-path'] ?? '/mcp'}`, access: 'everyone' }]
  })
  /** A config variant's document, without `$key`, the scopes `$key` asks for (null: none), and whether it sets limits. */
  const configOf = (text: string): { config: Record<string, Record<string, unknown>>, scopes: KeyScopes | null, limited: boolean, token: boolean } => {
    if (text === '') return { config: {}, scopes: null, limited: false, token: false }
    const { $key, $token, ...parsed } = JSON.parse(text.replaceAll('$OTLP', otlpUrl)) as Record<string, Record<string, unknown>>
    const token = ($token as unknown) === true
    const config = token ? { ...parsed, oauth: { ...OAUTH_CONFIG.oauth, ...parsed.oauth }, admin: { ...OAUTH_CONFIG.admin, ...parsed.admin } } : parsed
    return { config, scopes: ($key?.scopes as KeyScopes | undefined) ?? null, limited: config.gateway?.limits !== undefined, token }
  }
  const store = openStore(buildConfig(doc({})).store)
  const users = await createUsers(store, 1, 'v')
  const [plainKey] = await createKeys(store, users, 1, CHEAP_ARGON2) as [SeededKey]
  /** The key each process is loaded with: the plain one, or one with its variant's scopes. */
  const keys: SeededKey[] = []
  const gateways: NodeChild[] = []
  /** The variants loaded with an OAuth access token instead of their key (`$token`). */
  const tokenVariants = new Set<number>()
  /** The variants whose config sets limits (their counters are read after the run). */
  const limitedVariants: number[] = []
  /** Requests each variant answered, warm-up included. */
  const served = variants.map(() => 0)
  for (const [i, variant] of variants.entries()) {
    if (variant === 'bare' || variant.startsWith('bare ') || variant.startsWith('script:')) {
      const script = variant.startsWith('script:') ? resolve(variant.slice('script:'.length).split(/\s+/)[0] ?? '') : join(BENCH_DIR, 'bare-proxy.ts')
      const bare = await startNode({
        name: `bare${i}`,
        script,
        args: ['--upstream', `http://127.0.0.1:${upstream.port}`],
        cpu: cpuServer,
        nodeFlags: variant.split(/\s+/).slice(1).filter(f => f !== ''),
        logFile: join(dir, `bare${i}.log`)
      })
      gateways.push(bare)
      keys.push(plainKey)
      children.push(bare)
      continue
    }
    const build = variant.startsWith('@') ? atBuild(variant) : null
    const { config, scopes, limited, token } = configOf(build !== null ? build.config : isConfig(variant) ? variant : '')
    if (token) tokenVariants.add(i)
    // A limited variant's counters are its own: it gets a key (and user) no other variant uses.
    const owner = limited ? await createUsers(store, 1, `v${i}`) : users
    keys.push(scopes === null && !limited ? plainKey : (await createKeys(store, owner, 1, CHEAP_ARGON2, { scopes }))[0] as SeededKey)
    if (limited) limitedVariants.push(i)
    writeFileSync(join(dir, `gw${i}.json`), JSON.stringify(doc(config)))
    const gw = await startNode({
      name: `gw${i}`,
      // `@DIR`: another build of the repository (tsc --outDir DIR), to compare code changes.
      script: build !== null ? join(build.dir, 'bench', 'gateway-target.js') : join(BENCH_DIR, 'gateway-target.ts'),
      args: ['--config', join(dir, `gw${i}.json`)],
      cpu: cpuServer,
      nodeFlags: isConfig(variant) || build !== null ? [] : variant.split(/\s+/).filter(f => f !== ''),
      logFile: join(dir, `gw${i}.log`),
      timeoutMs: 60_000
    })
    gateways.push(gw)
    children.push(gw)
  }
  // A `$token` variant's credential: a JWT bound to its own endpoint URL (its port), for its key.
  const credentials = await Promise.all(gateways.map(async (g, i) => tokenVariants.has(i)
    ? await mintAccessToken(store, { keyId: (keys[i] as SeededKey).keyId, audience: `http://127.0.0.1:${g.port}/mcp-connect/bench` })
    : (keys[i] as SeededKey).key))
  await store.close()
  const spec = (i: number, connections: number, durationS: number) => ({
    url: `http://127.0.0.1:${(gateways[i] as NodeChild).port}/mcp-connect/bench`,
    connections,
    durationS,
    method: 'POST' as const,
    body: values.body ?? BODY,
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${credentials[i] as string}` },
    cpu: cpuLoad,
    workDir: dir
  })
  const idle = gateways.map(g => rssOf(g.pid))
  // What each variant answers the request (a scoped key's list is filtered: fewer bytes).
  const answers: string[] = []
  for (const i of gateways.keys()) {
    const s = spec(i, 1, 0)
    const res = await fetch(s.url, { method: 'POST', headers: s.headers, body: s.body })
    answers.push(`${labels[i] ?? i} ${res.status} ${(await res.arrayBuffer()).byteLength} B`)
    const warm = await runLoad(spec(i, 10, 3))
    served[i] = 1 + warm.requests
    if (warm.non2xx + warm.errors > 0) throw new Error(`${labels[i] ?? i}: ${warm.non2xx} non-2xx answers and ${warm.errors} errors in the warm-up (log: ${join(dir, `gw${i}.log`)})`)
  }
  const cs = (values.connections ?? '10,64').split(',').map(Number)
  const rows = new Map<string, { rps: number[], cpu: number[], p50: number[], p99: number[], rss: number[], round: number[], others: number[], requests: number, non2xx: number }>()
  for (let rep = 0; rep < Number(values.reps); rep++) {
    const order = rep % 2 === 0 ? gateways.map((g, i) => i) : gateways.map((g, i) => i).reverse()
    for (const c of cs) {
      for (const i of order) {
        const g = gateways[i] as NodeChild
        const cpu0 = cpuTimeOf(g.pid) ?? 0
        const ticks0 = cpuTicks()
        const { result, maxRss } = await maxRssDuring(g.pid, runLoad(spec(i, c, Number(values.seconds))))
        const used = (cpuTimeOf(g.pid) ?? 0) - cpu0
        const cpu = used / Math.max(1, result.requests)
        const k = `${labels[i] ?? ''} c=${c}`
        const row = rows.get(k) ?? { rps: [], cpu: [], p50: [], p99: [], rss: [], round: [], others: [], requests: 0, non2xx: 0 }
        row.others.push(othersOnCore(ticks0, cpuTicks(), cpuServer, used))
        row.rps.push(result.rps)
        row.cpu.push(cpu)
        row.round.push(rep)
        row.p50.push(result.p50)
        row.p99.push(result.p99)
        row.rss.push((maxRss ?? 0) / 1048576)
        row.requests += result.requests
        row.non2xx += result.non2xx + result.errors
        served[i] = (served[i] ?? 0) + result.requests
        rows.set(k, row)
      }
    }
  }
  process.stdout.write('| variant | req/s | CPU µs/req | CPU vs first, per repetition: median (quartiles) | p50 µs | p50 − first\'s, per repetition: median (quartiles) | p99 µs | max RSS MB |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n')
  for (const [k, r] of rows) {
    const first = rows.get(`${labels[0] ?? ''} ${k.slice(k.lastIndexOf('c='))}`) ?? r
    const ratios = paired(r, first, 'cpu', (a, b) => a / b)
    const added = paired(r, first, 'p50', (a, b) => a - b)
    const q = (xs: number[], digits: number) => `${round(median(xs), digits)} (${round(percentile(xs, 25), digits)}–${round(percentile(xs, 75), digits)})`
    process.stdout.write(`| ${k} | ${Math.round(median(r.rps))} | ${round(median(r.cpu), 0)} | ${q(ratios, 2)} | ${median(r.p50)} | ${q(added, 0)} | ${median(r.p99)} | ${round(Math.max(...r.rss), 0)} |\n`)
  }
  // Each repetition's figure, and how busy other processes kept the server's core meanwhile (the
  // machine's other work: a repetition far off the others usually had a neighbour).
  process.stdout.write('\nCPU µs per request in each repetition (other processes\' share of the server core meanwhile):\n')
  for (const [k, r] of rows) process.stdout.write(`- ${k}: ${r.cpu.map((v, j) => `${Math.round(v)} (${Math.round(r.others[j] ?? 0)} %)`).join(', ')}\n`)
  const failed = [...rows].filter(([, r]) => r.non2xx > 0)
  if (failed.length > 0) process.stdout.write(`\nNOT 2xx: ${failed.map(([k, r]) => `${k} ${r.non2xx} of ${r.requests}`).join(', ')}\n`)
  process.stdout.write(`\nanswers: ${answers.join(', ')}\n`)
  process.stdout.write(`idle RSS MB: ${labels.map((l, i) => `${l} ${round((idle[i] ?? 0) / 1048576, 0)}`).join(', ')}\n`)
  if (limitedVariants.length > 0) {
    // What the store counted: the day's tool calls of the key and of its user (the bench's
    // request is a tools/call; a request counter lasts a minute, shorter than a run). The process
    // holds up to a lease (1/20 of the limit, at most 100 tokens) counted and not spent yet, and
    // wrk does not count the requests still in flight when each of its runs ends.
    const day = windowStart('toolCalls', Date.now())
    const counted = openStore(buildConfig(doc({})).store)
    for (const i of limitedVariants) {
      const k = keys[i] as SeededKey
      const [keyCalls, userCalls] = await counted.tokensUsed([counterOf(`k:${k.keyId}`, 'toolCalls', day), counterOf(`u:${k.userId}`, 'toolCalls', day)])
      process.stdout.write(`limits, ${labels[i] ?? i}: served ${served[i] ?? 0} requests (warm-up included); the store counted today's tool calls: key ${keyCalls ?? 0}, user ${userCalls ?? 0}\n`)
    }
    await counted.close()
  }
  if (sink !== null) {
    const res = await fetch(`http://127.0.0.1:${sink.port}/stats`)
    const stats = await res.json() as { exports: number, bytes: number, spans: number }
    const traced = [...rows].filter(([k]) => variants[labels.indexOf(k.slice(0, k.lastIndexOf(' c=')))]?.includes('$OTLP') === true).reduce((n, [, r]) => n + r.requests, 0)
    process.stdout.write(`OTLP sink: ${stats.exports} exports, ${round(stats.bytes / 1048576, 1)} MB, ${stats.spans} spans; the traced variants served ${traced} measured requests (+ their warm-up)\n`)
  }
} catch (err) {
  // The servers' logs stay for a look (the error names them).
  kept = true
  throw err
} finally {
  for (const c of children.reverse()) await c.stop()
  if (!kept) rmSync(dir, { recursive: true, force: true })
}

/**
 * The share (%) of `cpu`'s time between two cpuTicks() readings that was busy with other work than
 * the server's `serverUs` of CPU (which is pinned there); NaN when unknown.
 */
function othersOnCore (before: number[][], after: number[][], cpu: number | undefined, serverUs: number): number {
  const a = before[cpu ?? -1]
  const b = after[cpu ?? -1]
  if (a === undefined || b === undefined || b.length < 8) return Number.NaN
  const delta = b.map((v, i) => v - (a[i] ?? 0))
  const total = delta.reduce((x, y) => x + y, 0)
  // user nice system idle iowait irq softirq steal: busy = all but idle, iowait and steal.
  const busy = total - (delta[3] ?? 0) - (delta[4] ?? 0) - (delta[7] ?? 0)
  // Ticks are 1/100 s (USER_HZ) on Linux.
  const elapsedS = total / 100
  return total > 0 ? Math.max(0, (busy / 100 - serverUs / 1e6) / elapsedS * 100) : Number.NaN
}

/** Per repetition: `op` of the mean `field` of `row`'s processes and the mean of `first`'s. */
function paired<F extends 'cpu' | 'p50'> (row: Record<F | 'round', number[]>, first: Record<F | 'round', number[]>, field: F, op: (a: number, b: number) => number): number[] {
  const meanIn = (r: Record<F | 'round', number[]>, rep: number) => {
    const xs = r[field].filter((_, i) => r.round[i] === rep)
    return xs.reduce((a, b) => a + b, 0) / xs.length
  }
  return [...new Set(row.round)].map(rep => op(meanIn(row, rep), meanIn(first, rep)))
}
