// Real `mcpgate gateway|admin|start` processes for resilience tests: the CLI as operators run it
// (bin/mcpgate.js, a YAML config in a temp dir, port 0), its URL read from the "listening on" line
// on stdout, stopped in the test's teardown (SIGTERM, then SIGKILL after 5 s). With `probe`, the
// process also answers stats / event-loop questions over IPC (test/helpers/process-probe.ts).
// Also: bounded polling (`until`), a small admin REST client and timing summaries.
import { spawn, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { Test } from 'tap'
import type { AuthStats } from '../../gateway/auth.ts'
import type { ProbeAnswer, ProbeQuestion } from './process-probe.ts'
import { tempDir } from './stores.ts'

const BIN = new URL('../../bin/mcpgate.js', import.meta.url).pathname
const PROBE = new URL('./process-probe.ts', import.meta.url).href

export const ADMIN_TOKEN = 'resilience-admin-token-0123456789'
/** Fast argon2 for tests that are not about hashing cost. */
export const FAST_HASHING = { memoryCost: 1024, timeCost: 1, parallelism: 1 }

export type ConfigDoc = Record<string, unknown>

/** Writes `doc` as the process's config file (JSON is YAML) in a temp dir removed in teardown. */
export function writeConfig (t: Test, doc: ConfigDoc): string {
  const path = join(tempDir(t, 'mcpgate-resilience-'), 'mcpgate.yaml')
  writeFileSync(path, JSON.stringify(doc, null, 2))
  return path
}

export interface LoopDelay { p50: number, p99: number, max: number, mean: number, count: number }
export type GatewayStats = AuthStats & { cache: { keys: number, users: number, negative: number }, lastUsedPending: number }

export interface McpgateProcess {
  readonly child: ChildProcess
  /** http://127.0.0.1:PORT of the gateway (gateway/start) or of the admin API (admin). */
  readonly url: string
  /** The admin API's URL when the command is `start`. */
  readonly adminUrl: string | undefined
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string
  /** Resolves with the exit code and signal once the process has exited. */
  readonly exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  signal(sig: NodeJS.Signals): void
  /** app.mcpgate.stats (+ cache sizes) inside the process; needs `probe: true`. */
  stats(): Promise<GatewayStats>
  /** Event-loop delay inside the process since the last reset (ms); needs `probe: true`. */
  loopDelay(): Promise<LoopDelay>
  resetLoopDelay(): Promise<void>
}

export interface StartOptions {
  /** Preload the IPC probe (stats, event-loop delay). */
  probe?: boolean
  env?: Record<string, string>
  /** How long the process may take to print its listening line(s) (default 30 s). */
  startTimeoutMs?: number
}

const GATEWAY_LINE = /gateway listening on (http:\/\/[^/\s]+)\/mcp-connect/
const ADMIN_LINE = /admin API listening on (http:\/\/[^/\s]+)/

export async function startMcpgate (t: Test, command: 'gateway' | 'admin' | 'start', configPath: string, opts: StartOptions = {}): Promise<McpgateProcess> {
  const nodeArgs = opts.probe === true ? ['--import', 'tsx', '--import', PROBE] : []
  const child = spawn(process.execPath, [...nodeArgs, BIN, command, '--config', configPath], {
    stdio: ['ignore', 'pipe', 'pipe', ...(opts.probe === true ? ['ipc' as const] : [])],
    env: { PATH: process.env.PATH ?? '', ...opts.env }
  })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
  })
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(timer)
  })

  let output = ''
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (d: string) => { output += d })
  const lines = createInterface({ input: child.stdout! })
  let gatewayUrl: string | undefined
  let adminUrl: string | undefined
  const wantGateway = command !== 'admin'
  const wantAdmin = command !== 'gateway'
  const limit = opts.startTimeoutMs ?? 30_000
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`mcpgate ${command} did not start within ${limit} ms:\n${output}`)), limit)
    lines.on('line', line => {
      output += line + '\n'
      gatewayUrl ??= GATEWAY_LINE.exec(line)?.[1]
      adminUrl ??= ADMIN_LINE.exec(line)?.[1]
      if ((!wantGateway || gatewayUrl !== undefined) && (!wantAdmin || adminUrl !== undefined)) {
        clearTimeout(timer)
        resolve()
      }
    })
    exited.then(({ code, signal }) => {
      clearTimeout(timer)
      reject(new Error(`mcpgate ${command} exited (${code ?? signal}) before listening:\n${output}`))
    }, () => {})
  })

  let nextId = 0
  function ask<T> (probe: ProbeQuestion): Promise<T> {
    if (child.send === undefined || !child.connected) return Promise.reject(new Error('process started without probe, or gone'))
    const id = ++nextId
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => { child.off('message', onMessage); reject(new Error(`probe ${probe} unanswered`)) }, 5000)
      function onMessage (m: ProbeAnswer): void {
        if (m.id !== id) return
        clearTimeout(timer)
        child.off('message', onMessage)
        if (m.error !== undefined) reject(new Error(m.error))
        else resolve(m.value as T)
      }
      child.on('message', onMessage)
      child.send({ probe, id })
    })
  }

  return {
    child,
    url: (wantGateway ? gatewayUrl : adminUrl) as string,
    adminUrl: command === 'start' ? adminUrl : undefined,
    output: () => output,
    exited,
    signal: sig => { child.kill(sig) },
    stats: () => ask<GatewayStats>('stats'),
    loopDelay: () => ask<LoopDelay>('loop-delay'),
    resetLoopDelay: async () => { await ask<boolean>('loop-delay-reset') }
  }
}

/**
 * Calls `fn` until it returns something other than undefined/false, at most `within` ms (then
 * throws naming `what`). No fixed sleeps: it polls every `everyMs` (default 5 ms).
 */
export async function until<T> (what: string, within: number, fn: () => Promise<T | undefined | false> | T | undefined | false, everyMs = 5): Promise<T> {
  const deadline = performance.now() + within
  for (;;) {
    const v = await fn()
    if (v !== undefined && v !== false) return v
    if (performance.now() > deadline) throw new Error(`timed out after ${within} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
}

/** GET /readyz until 200 (store answers and, for the gateway, the invalidation subscription is live). */
export async function waitReady (url: string, within = 10_000): Promise<void> {
  await until(`${url}/readyz`, within, async () => {
    try {
      return (await fetch(`${url}/readyz`)).status === 200
    } catch {
      return false
    }
  }, 20)
}

export interface Reply {
  status: number
  headers: Headers
  body: string
  /** MCPGATE_* code from an error body, if any. */
  code: string | undefined
  /** Wall time of the round trip (ms). */
  ms: number
  json<T = any>(): T
}

function codeOf (body: string): string | undefined {
  return /"code"\s*:\s*"(MCPGATE_[A-Z_]+)"/.exec(body)?.[1]
}

export async function request (url: string, init: RequestInit = {}): Promise<Reply> {
  const start = performance.now()
  const res = await fetch(url, init)
  const body = await res.text()
  return { status: res.status, headers: res.headers, body, code: codeOf(body), ms: performance.now() - start, json: () => JSON.parse(body) }
}

/** A POST through the gateway to `/mcp-connect/<serverId>` with the key as a bearer. */
export function sendMcp (gatewayUrl: string, serverId: string, key: string, extraHeaders: Record<string, string> = {}): Promise<Reply> {
  return request(`${gatewayUrl}/mcp-connect/${serverId}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...extraHeaders },
    body: '{"jsonrpc":"2.0","id":1,"method":"ping"}'
  })
}

/** The admin REST API as an operator's script would call it (bootstrap admin token). */
export function adminClient (adminUrl: string, token = ADMIN_TOKEN) {
  const call = (method: string, path: string, body?: unknown): Promise<Reply> => request(`${adminUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  return {
    call,
    async createUser (input: { email: string, name?: string, groups?: string[], role?: 'user' | 'admin' }): Promise<{ id: string }> {
      const r = await call('POST', '/api/users', input)
      if (r.status !== 201) throw new Error(`create user: ${r.status} ${r.body}`)
      return r.json()
    },
    async createKey (userId: string, input: { name: string, mcpServerIds: string[] }): Promise<{ id: string, key: string }> {
      const r = await call('POST', `/api/users/${userId}/api-keys`, input)
      if (r.status !== 201) throw new Error(`create key: ${r.status} ${r.body}`)
      return r.json()
    }
  }
}

/** p50/p99/max of a sample (ms), for t.comment. */
export function summary (samples: readonly number[]): { n: number, p50: number, p99: number, max: number } {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN
  const round = (x: number): number => Math.round(x * 100) / 100
  return { n: sorted.length, p50: round(at(0.5)), p99: round(at(0.99)), max: round(sorted[sorted.length - 1] ?? NaN) }
}
