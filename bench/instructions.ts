// `node --import tsx bench/instructions.ts [--requests 2000] [--warmup 6000] [--reps 2] [--idle 5] [--settle 2] [--tail 1.5] [--keep DIR] -- '' 'script:bench/floor-proxy.ts' '@bench/.scratch-A {"audit":{"enabled":false}}' …`:
// instructions executed per proxied request, counted by valgrind's callgrind instead of timed.
// On this shared machine a timed A/B cannot resolve a change below ~10 % (steal, a neighbour's
// load); an instruction count does not move with what else the machine is doing. It is not a
// time: cache misses and the kernel's side of system calls are not in it (bench/README.md,
// round 11, says what it showed and how far two processes of the same code differ).
//
// Each variant runs under `valgrind --tool=callgrind` with instrumentation off (startup and the
// warm-up run at valgrind's uninstrumented speed), takes `--warmup` requests, is counted idle for
// `--idle` seconds, then counted over exactly `--requests` more, from 10 keep-alive connections.
// The main thread's idle rate times the loaded window's duration is taken off its loaded count
// (timers run per second, and under valgrind a second holds ~50× fewer requests). Reported per thread group: the
// main thread (the event loop: every request's JavaScript, and the GC work done there) and the
// others (V8's compiler and GC helper threads, libuv's pool), which depend on when V8 compiles or
// collects and vary far more between processes.
//
// Work the gateway does per second rather than per request is kept out of both windows' edges:
// the process rests `--settle` seconds uncounted after the warm-up (the audit trail's batch of the
// warm-up's events, written every second, lands there, not in the idle window), and the loaded
// window runs `--tail` seconds past the last answer (the batch of the counted requests' events
// lands in it; the idle rate times the window, tail included, is taken off as above).
//
// Variants: '' is mcpgate as bench/gateway-target.ts runs it; a JSON object is config merged over
// the bench's (e.g. '{"log":{"accessLog":false}}'); `@DIR [config]` is the gateway of another
// build (`tsc -p tsconfig.build.json --outDir DIR`, DIR inside the repository), with an optional
// JSON config after a space (a build older than a config section refuses it); `script:FILE` is
// any proxy taking `--upstream` (bench/floor-proxy.ts, bench/bare-proxy.ts, bench/node-floor.ts).
// In a config, `"$token": true` is not config: the variant runs in OAuth mode and is sent an OAuth
// access token for the key (bench/oauth-token.ts) instead of the key itself.
// In a config, `"$key": {"scopes": {…}}` is not config: the variant is sent a key with those
// per-tool scopes (the server's id is `bench`), and `$OTLP` becomes the URL of a stand-in OTLP
// collector (bench/otlp-sink.ts, started when a variant names it), as in bench/variants.ts; a
// variant may carry a `label=` prefix that names its row. With tracing on, give `--tail` more than
// the exporter's flush interval (telemetry.flushMs, 2 s), so that the counted requests' last
// export lands in the loaded window.
// Needs valgrind (Debian's package; on every machine kind here).
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve as resolvePath } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { Pool } from 'undici'
import { buildConfig } from '../config/load.ts'
import { openStore } from '../core/store/open.ts'
import type { KeyScopes } from '../core/tool-scope.ts'
import { BENCH_DIR, buildServers, hasCommand, machine, pinProcess, startNode, type StartNodeOptions } from './procs.ts'
import { mintAccessToken, OAUTH_CONFIG } from './oauth-token.ts'
import { BODY } from './results.ts'
import { gatewayConfig } from './run.ts'
import { CHEAP_ARGON2, createKeys, createUsers } from './seed.ts'
import { median, round } from './stats.ts'

const { values, positionals } = parseArgs({
  options: {
    requests: { type: 'string', default: '2000' },
    warmup: { type: 'string', default: '6000' },
    reps: { type: 'string', default: '2' },
    idle: { type: 'string', default: '5' },
    settle: { type: 'string', default: '2' },
    tail: { type: 'string', default: '1.5' },
    /** Keep callgrind's files here (for callgrind_annotate: `<tag>.2-01` is the main thread's counted window). */
    keep: { type: 'string' },
    connections: { type: 'string', default: '10' }
  },
  allowPositionals: true
})
const given = positionals.length > 0 ? positionals : ['', 'script:bench/floor-proxy.ts', 'script:bench/bare-proxy.ts']
/** `label=variant` → the label and the variant (as in bench/variants.ts); unlabelled, a variant is its own label. */
const named = given.map(v => {
  const m = /^([A-Za-z][\w.-]*)=(.*)$/s.exec(v)
  return m === null ? { label: v || '(mcpgate)', variant: v } : { label: m[1] as string, variant: m[2] as string }
})
const variants = named.map(n => n.variant)
const labels = named.map(n => n.label)
const requests = Number(values.requests)
const warmup = Number(values.warmup)
const connections = Number(values.connections)

/** Instructions callgrind's dump number `n` counted, per thread file (`<out>.<n>-01` is the main thread). */
function threadTotals (dir: string, out: string, n: number): { main: number, other: number } {
  let main = 0
  let other = 0
  for (const f of readdirSync(dir).filter(name => name.startsWith(`${out}.${n}-`))) {
    const m = /^totals: (\d+)/m.exec(readFileSync(join(dir, f), 'utf8'))
    if (m === null) continue
    if (f.endsWith('-01')) main += Number(m[1])
    else other += Number(m[1])
  }
  return { main, other }
}

type Server = Pick<StartNodeOptions, 'script' | 'args'> & { scopes: KeyScopes | null, token?: boolean }

/** A `$token` variant's gateway URL as its tokens name it (its port changes with every process). */
const TOKEN_GATEWAY = 'http://gateway.bench.invalid'

/** How to start `variant` (see the header), given the upstream's port and the store the keys are in. */
function serverFor (variant: string, i: number, dir: string, upstreamPort: number, store: Record<string, unknown>, otlpUrl: string): Server {
  if (variant.startsWith('script:')) {
    return { script: resolvePath(variant.slice('script:'.length)), args: ['--upstream', `http://127.0.0.1:${upstreamPort}`], scopes: null }
  }
  const config = join(dir, `gw${i}.json`)
  // `@DIR {…}`: the build, then its config.
  const space = variant.search(/\s/)
  const build = !variant.startsWith('@') ? null : space < 0 ? variant.slice(1) : variant.slice(1, space)
  const text = build === null ? variant : space < 0 ? '' : variant.slice(space).trim()
  const { $key, $token, ...parsed } = text.startsWith('{') ? JSON.parse(text.replaceAll('$OTLP', otlpUrl)) as Record<string, Record<string, unknown>> : {}
  // `"$token": true`: OAuth mode, loaded with an access token for the key (bench/oauth-token.ts).
  const token = ($token as unknown) === true
  const extra = token
    ? { ...parsed, oauth: { ...OAUTH_CONFIG.oauth, ...parsed.oauth }, admin: { ...OAUTH_CONFIG.admin, ...parsed.admin }, gateway: { ...parsed.gateway, publicUrl: TOKEN_GATEWAY } }
    : parsed
  writeFileSync(config, JSON.stringify(gatewayConfig(upstreamPort, store, extra)))
  const script = build !== null ? join(resolvePath(build), 'bench', 'gateway-target.js') : join(BENCH_DIR, 'gateway-target.ts')
  return { script, args: ['--config', config], scopes: ($key?.scopes as KeyScopes | undefined) ?? null, token }
}

/** One variant under callgrind: warm-up uninstrumented, then `requests` counted. */
async function measure (server: Server, cpu: number | undefined, dir: string, auth: string, tag: string): Promise<{ main: number, other: number, idleMainPerS: number, loadedS: number }> {
  const out = `cg-${tag}`
  const child = await startNode({
    script: server.script,
    args: server.args,
    name: tag,
    cpu,
    wrapper: ['valgrind', '--tool=callgrind', '--instr-atstart=no', '--separate-threads=yes', `--callgrind-out-file=${join(dir, out)}`],
    logFile: join(dir, `${out}.log`),
    timeoutMs: 180_000
  })
  try {
    const port = child.port
    const pool = new Pool(`http://127.0.0.1:${port}`, { connections })
    const send = async (n: number): Promise<void> => {
      let next = 0
      const worker = async (): Promise<void> => {
        while (next++ < n) {
          const r = await pool.request({ path: '/mcp-connect/bench', method: 'POST', body: BODY, headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: auth } })
          await r.body.dump()
          if (r.statusCode !== 200) throw new Error(`${tag}: status ${r.statusCode}`)
        }
      }
      await Promise.all(Array.from({ length: connections }, worker))
    }
    await send(warmup)
    await delay(Number(values.settle) * 1000)
    const control = (...args: string[]) => execFileSync('callgrind_control', [...args, String(child.pid)], { stdio: 'ignore' })
    // Timers run per second, not per request (the log flush, prom-client's lag sampling, the
    // store's polling): under valgrind, ~50× slower, they would weigh ~50× more per request than
    // at full speed. So the process is first counted idle, and that rate, times the loaded
    // window's duration, is taken off the loaded count. The idle window also lets the compile
    // jobs V8 queued during the warm-up finish outside the loaded one (valgrind runs one thread at
    // a time, and a busy event loop starves them).
    let t = performance.now()
    control('-i', 'on')
    await delay(Number(values.idle) * 1000)
    control('-i', 'off')
    const idleMs = performance.now() - t
    control('-d')
    t = performance.now()
    control('-i', 'on')
    await send(requests)
    await delay(Number(values.tail) * 1000)
    control('-i', 'off')
    const loadedMs = performance.now() - t
    control('-d')
    await pool.close()
    const idle = threadTotals(dir, out, 1)
    const loaded = threadTotals(dir, out, 2)
    // The other threads' idle count is mostly queued compile jobs finishing, once, not a rate.
    return { main: loaded.main - idle.main * loadedMs / idleMs, other: loaded.other, idleMainPerS: idle.main / idleMs * 1000, loadedS: loadedMs / 1000 }
  } finally {
    await child.stop()
  }
}

if (!hasCommand('valgrind') || !hasCommand('callgrind_control')) {
  process.stderr.write('bench/instructions.ts needs valgrind: apt-get install -y valgrind\n')
  process.exit(1)
}
const dir = mkdtempSync(join(tmpdir(), 'mcpgate-instr-'))
const [cpuLoad, cpuServer] = machine().cores >= 2 ? [0, 1] : [undefined, undefined]
if (cpuLoad !== undefined) pinProcess(process.pid, cpuLoad)
buildServers()
const upstream = await startNode({ name: 'upstream', script: join(BENCH_DIR, 'upstream.ts'), cpu: cpuLoad, logFile: join(dir, 'upstream.log') })
const sink = variants.some(v => v.includes('$OTLP'))
  ? await startNode({ name: 'otlp sink', script: join(BENCH_DIR, 'otlp-sink.ts'), cpu: cpuLoad, logFile: join(dir, 'otlp-sink.log') })
  : null
try {
  const storeDoc = { type: 'sqlite', path: join(dir, 'i.db') }
  const store = openStore(buildConfig(gatewayConfig(upstream.port, storeDoc)).store)
  const users = await createUsers(store, 1, 'i')
  const [key] = await createKeys(store, users, 1, CHEAP_ARGON2)
  const servers = variants.map((v, i) => serverFor(v, i, dir, upstream.port, storeDoc, sink === null ? '' : `http://127.0.0.1:${sink.port}/v1/traces`))
  // Each variant's key: the plain one, or one with the per-tool scopes it asks for.
  const auths: string[] = []
  for (const s of servers) {
    const own = s.scopes === null ? key : (await createKeys(store, users, 1, CHEAP_ARGON2, { scopes: s.scopes }))[0]
    if (own === undefined) throw new Error('no key seeded')
    auths.push(`Bearer ${s.token === true ? await mintAccessToken(store, { keyId: own.keyId, audience: `${TOKEN_GATEWAY}/mcp-connect/bench` }) : own.key}`)
  }
  await store.close()
  const rows = variants.map(() => ({ main: [] as number[], other: [] as number[] }))
  for (let rep = 0; rep < Number(values.reps); rep++) {
    const order = variants.map((_, i) => i)
    if (rep % 2 === 1) order.reverse()
    for (const i of order) {
      const t = await measure(servers[i] as Server, cpuServer, dir, auths[i] ?? '', `${rep}-${i}`)
      rows[i]?.main.push(t.main / requests)
      rows[i]?.other.push(t.other / requests)
      process.stderr.write(`rep ${rep + 1} ${labels[i] ?? i}: main ${round(t.main / requests / 1000, 1)}k, other ${round(t.other / requests / 1000, 1)}k (idle main ${round(t.idleMainPerS / 1e6, 2)}M/s, loaded window ${round(t.loadedS, 1)} s)\n`)
    }
  }
  const first = median(rows[0]?.main ?? [])
  process.stdout.write(`instructions per request (k), ${requests} requests after ${warmup}, c=${connections}, ${values.reps} processes per variant, medians (min–max)\n\n`)
  process.stdout.write('| variant | main thread | vs the first | other threads |\n| --- | --- | --- | --- |\n')
  for (const [i, r] of rows.entries()) {
    const k = (xs: number[]) => `${round(median(xs) / 1000, 1)} (${round(Math.min(...xs) / 1000, 1)}–${round(Math.max(...xs) / 1000, 1)})`
    process.stdout.write(`| ${labels[i] ?? i} | ${k(r.main)} | ${round(median(r.main) / first, 3)} | ${k(r.other)} |\n`)
  }
  if (sink !== null) {
    const stats = await (await fetch(`http://127.0.0.1:${sink.port}/stats`)).json() as { exports: number, spans: number }
    process.stdout.write(`\nOTLP sink: ${stats.exports} exports, ${stats.spans} spans\n`)
  }
} finally {
  await sink?.stop()
  await upstream.stop()
  if (values.keep !== undefined) {
    for (const f of readdirSync(dir).filter(name => name.startsWith('cg-'))) renameSync(join(dir, f), join(values.keep, f))
    process.stderr.write(`callgrind's files are in ${values.keep}\n`)
  }
  rmSync(dir, { recursive: true, force: true })
}
