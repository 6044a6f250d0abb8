// `node --import tsx bench/variants.ts [--seconds 6] [--reps 3] -- '' '--max-semi-space-size=32' '{"log":{"accessLog":false}}' …`:
// the same cached-key load on mcpgate processes that differ in Node/V8 flags ('' = none) or in
// config (a JSON object merged over the bench config's top-level sections), measured interleaved,
// reporting req/s, server CPU per request, p99 and RSS; the variant `bare [flags]` is the bare
// @fastify/http-proxy of target (b), for comparison; `script:FILE [flags]` any other proxy taking
// `--upstream` (e.g. `script:bench/floor-proxy.ts`, the stack's floor); `@DIR` is the gateway of
// another build of the repository (`tsc -p tsconfig.build.json --outDir DIR`, DIR inside the
// repository so that its imports resolve), to compare code changes. A variant given several
// times runs in that many processes, pooled. Each repetition runs every variant once, in
// alternating order; besides medians, the CPU per request of each variant is divided by the
// first variant's in the same repetition, which cancels the machine's slow drifts. Used for the
// GC settings, the access log and the floor figures in bench/README.md.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { buildConfig } from '../config/load.ts'
import { openStore } from '../core/store/open.ts'
import { runLoad } from './load.ts'
import { BENCH_DIR, buildServers, cpuTimeOf, machine, maxRssDuring, pinProcess, rssOf, startNode, type NodeChild } from './procs.ts'
import { BODY } from './run.ts'
import { CHEAP_ARGON2, createKeys, createUsers } from './seed.ts'
import { median, percentile, round } from './stats.ts'

const { values, positionals } = parseArgs({
  options: {
    seconds: { type: 'string', default: '6' },
    reps: { type: 'string', default: '3' },
    connections: { type: 'string', default: '10,64' }
  },
  allowPositionals: true
})
const variants = positionals.length > 0 ? positionals : ['', '--max-semi-space-size=32', '--max-semi-space-size=64']
/** A variant starting with `{` is config; anything else is Node flags. */
const isConfig = (v: string) => v.trim().startsWith('{')
const dir = mkdtempSync(join(tmpdir(), 'mcpgate-gc-'))
const [cpuLoad, cpuServer] = machine().cores >= 2 ? [0, 1] : [undefined, undefined]
if (cpuLoad !== undefined) pinProcess(process.pid, cpuLoad)
const children: NodeChild[] = []
try {
  buildServers()
  const upstream = await startNode({ name: 'upstream', script: join(BENCH_DIR, 'upstream.ts'), cpu: cpuLoad, logFile: join(dir, 'upstream.log') })
  children.push(upstream)
  const doc = (extra: Record<string, Record<string, unknown>>) => ({
    ...extra,
    gateway: { ...extra.gateway, host: '127.0.0.1', port: 0 },
    store: { type: 'sqlite', path: join(dir, 'v.db') },
    servers: [{ id: 'bench', url: `http://127.0.0.1:${upstream.port}/mcp`, access: 'everyone' }]
  })
  const store = openStore(buildConfig(doc({})).store)
  const [key] = await createKeys(store, await createUsers(store, 1, 'v'), 1, CHEAP_ARGON2)
  await store.close()
  const gateways: NodeChild[] = []
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
      children.push(bare)
      continue
    }
    writeFileSync(join(dir, `gw${i}.json`), JSON.stringify(doc(isConfig(variant) ? JSON.parse(variant) : {})))
    const gw = await startNode({
      name: `gw${i}`,
      // `@DIR`: another build of the repository (tsc --outDir DIR), to compare code changes.
      script: variant.startsWith('@') ? join(variant.slice(1), 'bench', 'gateway-target.js') : join(BENCH_DIR, 'gateway-target.ts'),
      args: ['--config', join(dir, `gw${i}.json`)],
      cpu: cpuServer,
      nodeFlags: isConfig(variant) || variant.startsWith('@') ? [] : variant.split(/\s+/).filter(f => f !== ''),
      logFile: join(dir, `gw${i}.log`),
      timeoutMs: 60_000
    })
    gateways.push(gw)
    children.push(gw)
  }
  const spec = (port: number, connections: number, durationS: number) => ({
    url: `http://127.0.0.1:${port}/mcp-connect/bench`,
    connections,
    durationS,
    method: 'POST' as const,
    body: BODY,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key?.key ?? ''}` },
    cpu: cpuLoad,
    workDir: dir
  })
  const idle = gateways.map(g => rssOf(g.pid))
  for (const g of gateways) await runLoad(spec(g.port, 10, 3))
  const cs = (values.connections ?? '10,64').split(',').map(Number)
  const rows = new Map<string, { rps: number[], cpu: number[], p50: number[], p99: number[], rss: number[], round: number[] }>()
  for (let rep = 0; rep < Number(values.reps); rep++) {
    const order = rep % 2 === 0 ? gateways.map((g, i) => i) : gateways.map((g, i) => i).reverse()
    for (const c of cs) {
      for (const i of order) {
        const g = gateways[i] as NodeChild
        const cpu0 = cpuTimeOf(g.pid) ?? 0
        const { result, maxRss } = await maxRssDuring(g.pid, runLoad(spec(g.port, c, Number(values.seconds))))
        const cpu = ((cpuTimeOf(g.pid) ?? 0) - cpu0) / Math.max(1, result.requests)
        const k = `${variants[i] || '(none)'} c=${c}`
        const row = rows.get(k) ?? { rps: [], cpu: [], p50: [], p99: [], rss: [], round: [] }
        row.rps.push(result.rps)
        row.cpu.push(cpu)
        row.round.push(rep)
        row.p50.push(result.p50)
        row.p99.push(result.p99)
        row.rss.push((maxRss ?? 0) / 1048576)
        rows.set(k, row)
      }
    }
  }
  process.stdout.write('| variant | req/s | CPU µs/req | CPU vs first, per repetition: median (quartiles) | p50 µs | p99 µs | max RSS MB |\n| --- | --- | --- | --- | --- | --- | --- |\n')
  for (const [k, r] of rows) {
    const ratios = pairedRatios(r, rows.get(`${variants[0] || '(none)'} ${k.slice(k.lastIndexOf('c='))}`) ?? r)
    process.stdout.write(`| ${k} | ${Math.round(median(r.rps))} | ${round(median(r.cpu), 0)} | ${round(median(ratios), 2)} (${round(percentile(ratios, 25), 2)}–${round(percentile(ratios, 75), 2)}) | ${median(r.p50)} | ${median(r.p99)} | ${round(Math.max(...r.rss), 0)} |\n`)
  }
  process.stdout.write(`\nidle RSS MB: ${variants.map((v, i) => `${v || '(none)'} ${round((idle[i] ?? 0) / 1048576, 0)}`).join(', ')}\n`)
} finally {
  for (const c of children.reverse()) await c.stop()
  rmSync(dir, { recursive: true, force: true })
}

/** Per repetition: the mean CPU per request of `row`'s processes over the mean of `first`'s. */
function pairedRatios (row: { cpu: number[], round: number[] }, first: { cpu: number[], round: number[] }): number[] {
  const meanIn = (r: { cpu: number[], round: number[] }, rep: number) => {
    const xs = r.cpu.filter((_, i) => r.round[i] === rep)
    return xs.reduce((a, b) => a + b, 0) / xs.length
  }
  return [...new Set(row.round)].map(rep => meanIn(row, rep) / meanIn(first, rep))
}
