// The `mcpgate` command as operators run it, for the CLI tests: bin/mcpgate.js in a child process
// with a chosen working directory and environment (PATH only, unless given), run to its end, or
// `start`ed and awaited until it has printed its banner (then stopped in teardown).
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import type { Test } from 'tap'

export const BIN = new URL('../../bin/mcpgate.js', import.meta.url).pathname

export interface Ran { code: number | null, stdout: string, stderr: string }

/** Runs `mcpgate …args` to its end. */
export async function runCli (args: string[], opts: { cwd?: string, env?: Record<string, string> } = {}): Promise<Ran> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd, env: { PATH: process.env.PATH ?? '', ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const [code] = await once(child, 'close') as [number | null]
  return { code, stdout, stderr }
}

/** A TCP port free right now on 127.0.0.1 (for the demo upstream, whose port is in the config). */
export async function freePort (): Promise<number> {
  const srv = createServer()
  srv.listen(0, '127.0.0.1')
  await once(srv, 'listening')
  const port = (srv.address() as { port: number }).port
  srv.close()
  await once(srv, 'close')
  return port
}

export interface Started { child: ChildProcess, output: () => string, exited: Promise<number | null> }

/**
 * `mcpgate start --demo …` until `ready(output)` holds (the banner is printed last), or its exit.
 * Stopped with SIGTERM in t's teardown.
 */
export async function startCli (t: Test, args: string[], opts: { cwd?: string, env?: Record<string, string>, ready: (out: string) => boolean }): Promise<Started> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd, env: { PATH: process.env.PATH ?? '', ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    await exited
  })
  let out = ''
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`mcpgate ${args.join(' ')} was not ready within 30 s:\n${out}`)), 30_000)
    const look = (d: string) => {
      out += d
      if (opts.ready(out)) { clearTimeout(timer); resolve() }
    }
    child.stdout.setEncoding('utf8').on('data', look)
    child.stderr.setEncoding('utf8').on('data', look)
    exited.then(code => { clearTimeout(timer); reject(new Error(`mcpgate exited early (${code}):\n${out}`)) }, reject)
  })
  return { child, output: () => out, exited }
}
