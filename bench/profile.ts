// `node --import tsx bench/profile.ts [--seconds 10] [--connections 10] [--target mcpgate|bare|floor]
// [--keys N] [--config '{"log":{"accessLog":false}}'] [--node-flags '…'] [--save FILE.cpuprofile]`:
// runs one target under wrk with `node --cpu-prof` and prints where its CPU time goes (self and
// inclusive, by function and by package). The findings are written up in bench/README.md.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { pathToFileURL } from 'node:url'
import { Pool } from 'undici'
import { buildConfig } from '../config/load.ts'
import { openStore } from '../core/store/open.ts'
import { runLoad } from './load.ts'
import { BENCH_DIR, REPO_DIR, buildServers, cpuTimeOf, machine, pinProcess, startNode } from './procs.ts'
import { BODY } from './results.ts'
import { DEFAULT_NODE_FLAGS, warmKeys } from './run.ts'
import { CHEAP_ARGON2, createKeys, createUsers, writeKeysFile } from './seed.ts'

interface CallFrame { functionName: string, url: string, lineNumber: number }
interface ProfileNode { id: number, callFrame: CallFrame, hitCount?: number, children?: number[] }
interface CpuProfile { nodes: ProfileNode[], samples: number[], timeDeltas: number[], startTime: number, endTime: number }

export interface ProfileLine { name: string, selfPct: number, totalPct: number }

/** Where a frame comes from: a package, a node internal, one of our files, or a VM state. */
export function categoryOf (frame: CallFrame): string {
  const url = frame.url
  if (url === '') return frame.functionName.startsWith('(') ? frame.functionName : '(native)'
  const nm = url.lastIndexOf('/node_modules/')
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/')
    return rest[0]?.startsWith('@') === true ? `${rest[0]}/${rest[1]}` : rest[0] ?? url
  }
  if (url.startsWith('node:')) return 'node:' + (url.slice(5).split('/')[1] ?? url.slice(5))
  const repo = pathToFileURL(REPO_DIR).href
  return url.startsWith(repo) ? url.slice(repo.length) : url
}

function frameName (frame: CallFrame): string {
  const fn = frame.functionName === '' ? '(anonymous)' : frame.functionName
  if (frame.url === '') return fn
  return `${fn} ${categoryOf(frame)}:${frame.lineNumber + 1}`
}

/** Sample ids taken inside [fromUs, toUs] (CLOCK_MONOTONIC µs, as process.hrtime), all when no window. */
export function samplesIn (profile: CpuProfile, window?: { fromUs: number, toUs: number }): number[] {
  if (window === undefined) return profile.samples
  const out: number[] = []
  let t = profile.startTime
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0
    if (t >= window.fromUs && t <= window.toUs) out.push(profile.samples[i] as number)
  }
  return out
}

/**
 * Self and inclusive share of the busy samples (idle excluded), aggregated by `keyOf`; each key
 * is counted once per stack, so recursion does not inflate inclusive shares.
 */
export function summarize (profile: CpuProfile, samples: number[], keyOf: (f: CallFrame) => string, top: number): ProfileLine[] {
  const byId = new Map<number, ProfileNode>()
  const parent = new Map<number, number>()
  for (const n of profile.nodes) {
    byId.set(n.id, n)
    for (const c of n.children ?? []) parent.set(c, n.id)
  }
  const self = new Map<string, number>()
  const total = new Map<string, number>()
  let count = 0
  for (const id of samples) {
    const node = byId.get(id)
    if (node === undefined || node.callFrame.functionName === '(idle)') continue
    count++
    const k = keyOf(node.callFrame)
    self.set(k, (self.get(k) ?? 0) + 1)
    const seen = new Set<string>()
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const key = keyOf((byId.get(cur) as ProfileNode).callFrame)
      if (seen.has(key)) continue
      seen.add(key)
      total.set(key, (total.get(key) ?? 0) + 1)
    }
  }
  return [...self.keys(), ...total.keys()]
    .filter((k, i, all) => all.indexOf(k) === i && k !== '(root)')
    .map(name => ({ name, selfPct: (self.get(name) ?? 0) / count * 100, totalPct: (total.get(name) ?? 0) / count * 100 }))
    .sort((a, b) => b.selfPct - a.selfPct)
    .slice(0, top)
}

export function renderProfile (profile: CpuProfile, window?: { fromUs: number, toUs: number }, top = 30): string {
  const samples = samplesIn(profile, window)
  const idle = samples.filter(id => profile.nodes.find(n => n.id === id)?.callFrame.functionName === '(idle)').length
  const pct = (n: number) => n.toFixed(1).padStart(5) + ' %'
  const lines: string[] = [`${samples.length} samples in the load window, ${(idle / samples.length * 100).toFixed(1)} % idle; shares below are of the busy samples`, '']
  lines.push('self     total    by package / file')
  for (const l of summarize(profile, samples, categoryOf, 20)) lines.push(`${pct(l.selfPct)}  ${pct(l.totalPct)}  ${l.name}`)
  lines.push('')
  lines.push('self     total    by function')
  for (const l of summarize(profile, samples, frameName, top)) lines.push(`${pct(l.selfPct)}  ${pct(l.totalPct)}  ${l.name}`)
  return lines.join('\n')
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href
if (isMain) {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '10' },
      connections: { type: 'string', default: '10' },
      target: { type: 'string', default: 'mcpgate' },
      'node-flags': { type: 'string' },
      config: { type: 'string' },
      save: { type: 'string' },
      keys: { type: 'string', default: '1' }
    }
  })
  const dir = mkdtempSync(join(tmpdir(), 'mcpgate-profile-'))
  const twoCores = machine().cores >= 2
  const [cpuLoad, cpuServer] = twoCores ? [0, 1] : [undefined, undefined]
  if (cpuLoad !== undefined) pinProcess(process.pid, cpuLoad)
  const nodeFlags = values['node-flags'] !== undefined ? values['node-flags'].split(/\s+/).filter(f => f !== '') : DEFAULT_NODE_FLAGS
  buildServers()
  const upstream = await startNode({ name: 'upstream', script: join(BENCH_DIR, 'upstream.ts'), cpu: cpuLoad, logFile: join(dir, 'upstream.log') })
  // --config: top-level sections merged over the bench's, e.g. '{"log":{"accessLog":false}}'.
  const extra = (values.config !== undefined ? JSON.parse(values.config) : {}) as Record<string, Record<string, unknown>>
  const doc = {
    ...extra,
    gateway: { ...extra.gateway, host: '127.0.0.1', port: 0 },
    store: { type: 'sqlite', path: join(dir, 'p.db') },
    servers: [{ id: 'bench', url: `http://127.0.0.1:${upstream.port}/mcp`, access: 'everyone' }]
  }
  const store = openStore(buildConfig(doc).store)
  const nKeys = Math.max(1, Number(values.keys))
  const keys = await createKeys(store, await createUsers(store, Math.ceil(nKeys / 100), 'p'), nKeys, CHEAP_ARGON2)
  const key = keys[0]
  await store.close()
  const keysFile = nKeys > 1 ? writeKeysFile(join(dir, 'keys.txt'), keys.map(k => k.key)) : undefined
  writeFileSync(join(dir, 'gw.json'), JSON.stringify(doc))
  const profDir = join(dir, 'prof')
  // bare: @fastify/http-proxy with defaults; floor: Fastify + the reference relay (floor-proxy.ts).
  const proxyScript = values.target === 'bare' ? 'bare-proxy.ts' : values.target === 'floor' ? 'floor-proxy.ts' : undefined
  const target = proxyScript !== undefined
    ? await startNode({ name: values.target, script: join(BENCH_DIR, proxyScript), args: ['--upstream', `http://127.0.0.1:${upstream.port}`], cpu: cpuServer, nodeFlags: [...nodeFlags, '--cpu-prof', `--cpu-prof-dir=${profDir}`], logFile: join(dir, 'target.log') })
    : await startNode({ name: 'mcpgate', script: join(BENCH_DIR, 'gateway-target.ts'), args: ['--config', join(dir, 'gw.json')], cpu: cpuServer, nodeFlags: [...nodeFlags, '--cpu-prof', `--cpu-prof-dir=${profDir}`], logFile: join(dir, 'target.log'), timeoutMs: 60_000 })
  const spec = {
    url: `http://127.0.0.1:${target.port}/mcp-connect/bench`,
    connections: Number(values.connections),
    method: 'POST' as const,
    body: BODY,
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${key?.key ?? ''}` },
    cpu: cpuLoad,
    workDir: dir,
    keysFile
  }
  // --keys N: every key verified and cached before the measured run, which rotates through them.
  if (keysFile !== undefined) {
    const pool = new Pool(`http://127.0.0.1:${target.port}`, { connections: 4 })
    await warmKeys(pool, keys, 4)
    await pool.destroy()
  }
  await runLoad({ ...spec, durationS: 2 })
  const fromUs = Number(process.hrtime.bigint() / 1000n)
  const cpu0 = cpuTimeOf(target.pid)
  const r = await runLoad({ ...spec, durationS: Number(values.seconds) })
  const cpu1 = cpuTimeOf(target.pid)
  const toUs = Number(process.hrtime.bigint() / 1000n)
  const cpuPerReq = cpu0 === null || cpu1 === null ? '?' : ((cpu1 - cpu0) / Math.max(1, r.requests)).toFixed(0)
  await target.stop()
  await upstream.stop()
  const file = readdirSync(profDir).find(f => f.endsWith('.cpuprofile'))
  if (file === undefined) throw new Error(`no profile written in ${profDir}`)
  const text = readFileSync(join(profDir, file), 'utf8')
  // --save FILE keeps the raw profile for Chrome DevTools / speedscope.
  if (values.save !== undefined) writeFileSync(values.save, text)
  const profile = JSON.parse(text) as CpuProfile
  process.stdout.write(`${values.target} under wrk c=${spec.connections}: ${Math.round(r.rps)} req/s, p50 ${r.p50} µs, p99 ${r.p99} µs, non-2xx ${r.non2xx}, ${cpuPerReq} µs CPU/request (profiler on) (profile: the measured run only)\n\n`)
  process.stdout.write(renderProfile(profile, { fromUs, toUs }) + '\n')
  rmSync(dir, { recursive: true, force: true })
}
