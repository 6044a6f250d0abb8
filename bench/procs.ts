// Starting and measuring the processes of a bench run: every server under test is its own child
// process, pinned to its own core with taskset when available, so RSS is per target and the
// load generator never shares an event loop or a core with the server it measures.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { openSync, closeSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { relative, join } from 'node:path'
import { createServer } from 'node:net'
import { cpus, loadavg, release, setPriority } from 'node:os'
import { fileURLToPath } from 'node:url'
import type { MemoryReport, ReadyMessage } from './child.ts'

export const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url))
export const REPO_DIR = fileURLToPath(new URL('..', import.meta.url))

let compiled = false

/** The bench's own compiled tree: never dist/, which bin/mcpgate.js may be loading meanwhile. */
const COMPILED_DIR = join(REPO_DIR, 'bench', '.tmp', 'dist')

/**
 * Compiles the servers (tsconfig.build.json, incremental, into bench/.tmp/dist) so that the bench
 * measures what `mcpgate` runs after `npm run build`: plain JavaScript, no tsx loader. From then
 * on startNode() starts the compiled twin of each script.
 */
export function buildServers (): void {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', COMPILED_DIR, '--tsBuildInfoFile', join(COMPILED_DIR, '.tsbuildinfo')], { cwd: REPO_DIR, stdio: 'inherit' })
  if (r.status !== 0) throw new Error(`tsc -p tsconfig.build.json failed (exit ${r.status})`)
  compiled = true
}

/** `bench/x.ts` → the node arguments that run it: its compiled twin once built, else through tsx. A `.js` runs as given. */
function scriptArgs (script: string): string[] {
  if (script.endsWith('.js')) return [script]
  if (!compiled) return ['--import', 'tsx', script]
  return [join(COMPILED_DIR, relative(REPO_DIR, script)).replace(/\.ts$/, '.js')]
}

export function hasCommand (name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0
}

export const TASKSET = hasCommand('taskset')

let niceness = 0

/**
 * Runs every bench process (and the runner) at this niceness, e.g. -10 on a machine where other
 * work competes for the same cores; 0 leaves scheduling alone. Needs privileges below 0.
 */
export function setNiceness (n: number): number {
  if (n === 0) return (niceness = 0)
  try {
    setPriority(process.pid, n)
    niceness = n
  } catch {
    // Not permitted (negative niceness needs privileges): run without it, and say so.
    niceness = 0
  }
  return niceness
}

export function renice (pid: number): void {
  if (niceness === 0) return
  try {
    setPriority(pid, niceness)
  } catch {}
}

/** `[nice -n N] [taskset -c <cpu>] cmd …`: pinned when taskset exists and a cpu is given. */
export function pinned (cpu: number | undefined, cmd: string, args: string[]): [string, string[]] {
  let out: [string, string[]] = [cmd, args]
  if (TASKSET && cpu !== undefined) out = ['taskset', ['-c', String(cpu), out[0], ...out[1]]]
  if (niceness !== 0) out = ['nice', ['-n', String(niceness), out[0], ...out[1]]]
  return out
}

/** Pins an already running process (the runner itself) to one core. */
export function pinProcess (pid: number, cpu: number): boolean {
  if (!TASKSET) return false
  return spawnSync('taskset', ['-a', '-cp', String(cpu), String(pid)], { stdio: 'ignore' }).status === 0
}

export function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0
      srv.close(() => resolve(port))
    })
  })
}

/** Resident set size of a process in bytes (Linux /proc); null where /proc is missing. */
export function rssOf (pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m === null ? null : Number(m[1]) * 1024
  } catch {
    return null
  }
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100

/**
 * CPU time (user + system, all threads) a process has used, in microseconds (Linux /proc; null
 * elsewhere). Unlike req/s, CPU per request hardly moves when other work shares the cores.
 */
export function cpuTimeOf (pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name may contain spaces: fields are counted after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK * 1e6
  } catch {
    return null
  }
}

/** Per-CPU tick counters from /proc/stat (user nice system idle iowait irq softirq steal …); [] where unreadable. */
export function cpuTicks (): number[][] {
  try {
    return readFileSync('/proc/stat', 'utf8').split('\n').filter(l => /^cpu\d/.test(l)).map(l => l.trim().split(/\s+/).slice(1).map(Number))
  } catch {
    return []
  }
}

/**
 * The share (%) of `cpu`'s time between two cpuTicks() readings that the hypervisor gave to
 * someone else (steal); null when unknown (no such CPU, no steal accounting, no time passed).
 */
export function stealPct (before: number[][], after: number[][], cpu: number | undefined): number | null {
  const a = before[cpu ?? -1]
  const b = after[cpu ?? -1]
  if (a === undefined || b === undefined || b.length < 8) return null
  const delta = b.map((v, i) => v - (a[i] ?? 0))
  const total = delta.reduce((x, y) => x + y, 0)
  return total > 0 ? Math.round(1000 * (delta[7] as number) / total) / 10 : null
}

/** Samples a process's RSS while `during` runs; returns the maximum seen. */
export async function maxRssDuring<T> (pid: number, during: Promise<T>, everyMs = 200): Promise<{ result: T, maxRss: number | null }> {
  let max: number | null = rssOf(pid)
  const timer = setInterval(() => {
    const r = rssOf(pid)
    if (r !== null && (max === null || r > max)) max = r
  }, everyMs)
  try {
    const result = await during
    return { result, maxRss: max }
  } finally {
    clearInterval(timer)
  }
}

export interface NodeChild {
  name: string
  pid: number
  port: number
  proc: ChildProcess
  stop(): Promise<void>
}

export interface StartNodeOptions {
  name: string
  script: string
  args?: string[]
  cpu?: number
  nodeFlags?: string[]
  /** A command node runs under, with its options (bench/instructions.ts: valgrind). */
  wrapper?: string[]
  /** stdout and stderr of the child go here (logs are kept off the runner's pipes). */
  logFile: string
  timeoutMs?: number
}

/** Starts `node [flags] <script>` (compiled, or through tsx) and waits for its ready message on the IPC channel. */
export function startNode (opts: StartNodeOptions): Promise<NodeChild> {
  const fd = openSync(opts.logFile, 'a')
  const [program, ...rest] = [
    ...(opts.wrapper ?? []), process.execPath, ...(opts.nodeFlags ?? []), ...scriptArgs(opts.script), ...(opts.args ?? [])
  ] as [string, ...string[]]
  const [cmd, args] = pinned(opts.cpu, program, rest)
  const proc = spawn(cmd, args, { cwd: REPO_DIR, stdio: ['ignore', fd, fd, 'ipc'] })
  closeSync(fd)
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL')
      reject(new Error(`${opts.name} did not become ready within ${opts.timeoutMs ?? 30_000} ms (log: ${opts.logFile})`))
    }, opts.timeoutMs ?? 30_000)
    proc.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`${opts.name} exited before it was ready (code ${code}, signal ${signal}; log: ${opts.logFile})`))
    })
    proc.on('message', (msg: ReadyMessage) => {
      if (msg?.ready !== true) return
      clearTimeout(timer)
      resolve({ name: opts.name, pid: msg.pid, port: msg.port, proc, stop: () => stopChild(proc) })
    })
  })
}

/** Asks a child that called answerMemoryQueries() where its memory goes; null if it does not answer within 2 s. */
export function memoryOf (child: NodeChild): Promise<MemoryReport | null> {
  return new Promise(resolve => {
    const timer = setTimeout(() => { child.proc.off('message', onMessage); resolve(null) }, 2000)
    const onMessage = (msg: Partial<MemoryReport>) => {
      if (msg?.memory === undefined) return
      clearTimeout(timer)
      child.proc.off('message', onMessage)
      resolve(msg as MemoryReport)
    }
    child.proc.on('message', onMessage)
    child.proc.send({ memory: true })
  })
}

/** SIGTERM, then SIGKILL if the child has not exited after 5 s. */
export function stopChild (proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve()
  return new Promise(resolve => {
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000)
    proc.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    proc.kill('SIGTERM')
  })
}

export function machine (): { cpuModel: string, cores: number, node: string, platform: string, loadavg: number[] } {
  return {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    node: process.version,
    platform: `${process.platform} ${release()}`,
    loadavg: loadavg().map(l => Math.round(l * 100) / 100)
  }
}

export function commandVersion (cmd: string, args: string[]): string | null {
  const r = spawnSync(cmd, args, { encoding: 'utf8' })
  if (r.error !== undefined || r.status === null) return null
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n')[0]?.trim() ?? null
}
