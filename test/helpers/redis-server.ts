// Starts a real, throwaway redis-server for a test file: free port + unix socket in a temp dir,
// no persistence, readiness read from its log (no sleeps), and never left running after the test.
import { spawn, type ChildProcess } from 'node:child_process'
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { Redis } from 'ioredis'

export interface StartRedisOptions {
  /** Extra redis-server arguments, e.g. ['--maxmemory', '10mb']. */
  args?: string[]
  /** How long to wait for "Ready to accept connections" (default 10 s). */
  readyTimeoutMs?: number
}

export interface RedisHandle {
  /** redis://127.0.0.1:PORT */
  readonly url: string
  readonly port: number
  /** Unix socket of the same server (also accepted by RedisStore as `url`). */
  readonly socketPath: string
  /** pid of the running server (changes after restart()). */
  readonly pid: number
  /** SIGTERM and wait for exit; also closes every client() and removes the temp dir. Idempotent. */
  stop(): Promise<void>
  /** SIGKILL and wait for exit (an outage); restart() brings it back on the same port. */
  kill(): Promise<void>
  /** Start again on the same port and socket (after kill() or a crash). Data is gone (no persistence). */
  restart(): Promise<void>
  /** SIGSTOP: the server stops answering but keeps its sockets open (a hung server). */
  pause(): void
  /** SIGCONT after pause(). */
  resume(): void
  /** A plain ioredis client for inspection; one per handle, closed by stop(). */
  client(): Redis
  /**
   * A connection in MONITOR mode: every command the server runs from now on (disconnect it when
   * done). The inspection client is connected first: ioredis opens the MONITOR connection beside
   * it, and the client's own ready check (INFO) could otherwise reach the server after MONITOR
   * started and be seen as somebody else's command.
   */
  monitor(): Promise<Redis>
}

const READY = 'Ready to accept connections'
const live = new Set<ChildProcess>()
const tempDirs = new Set<string>()
let exitHookInstalled = false

function installExitHook (): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  // Covers normal exit and process.exit(); a signal-killed test process is covered by the
  // parent-death signal set with setpriv below.
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL')
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
  })
}

function findExecutable (name: string, preferred: string[]): string | null {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(d => d !== '')
  for (const candidate of [...preferred, ...dirs.map(d => join(d, name))]) {
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {}
  }
  return null
}

function redisBinary (): string {
  const found = findExecutable('redis-server', ['/usr/bin/redis-server'])
  if (found === null) {
    throw new Error('redis-server not found (looked at /usr/bin/redis-server and PATH). ' +
      'The Redis tests need a real server: install it with `apt-get install -y redis-server`.')
  }
  return found
}

/** A port that was free a moment ago; the caller retries if someone else takes it first. */
async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const address = server.address()
  await new Promise<void>(resolve => server.close(() => resolve()))
  if (address === null || typeof address === 'string') throw new Error('could not allocate a free port')
  return address.port
}

class PortInUseError extends Error {}

interface Spawned {
  child: ChildProcess
  exited: Promise<void>
}

async function spawnRedis (port: number, dir: string, socketPath: string, opts: StartRedisOptions): Promise<Spawned> {
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--unixsocket', socketPath,
    '--unixsocketperm', '700',
    '--save', '',
    '--appendonly', 'no',
    '--dir', dir,
    '--daemonize', 'no',
    '--loglevel', 'notice',
    '--logfile', '',
    ...(opts.args ?? [])
  ]
  return await spawnServer(args, READY, port, opts.readyTimeoutMs ?? 10_000)
}

/** redis-server with `args`, ready once its log shows `ready`; killed if it is not within `deadline` ms. */
async function spawnServer (args: string[], ready: string, port: number, deadline: number): Promise<Spawned> {
  const binary = redisBinary()
  // setpriv --pdeathsig: the kernel kills redis if this test process dies without running exit
  // handlers (e.g. tap's SIGTERM on timeout); exec keeps the pid, so pid/SIGSTOP still apply.
  const setpriv = process.platform === 'linux' ? findExecutable('setpriv', ['/usr/bin/setpriv']) : null
  const [command, argv] = setpriv !== null
    ? [setpriv, ['--pdeathsig', 'KILL', binary, ...args]]
    : [binary, args]
  installExitHook()
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] })
  live.add(child)
  const exited = new Promise<void>(resolve => {
    child.once('exit', () => {
      live.delete(child)
      resolve()
    })
  })

  let output = ''
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server on port ${port} not ready after ${deadline} ms:\n${output}`)), deadline)
      const onData = (chunk: Buffer): void => {
        output += chunk.toString('utf8')
        if (output.includes(ready)) {
          clearTimeout(timer)
          resolve()
        }
      }
      child.stdout?.on('data', onData)
      child.stderr?.on('data', onData)
      child.once('error', err => {
        clearTimeout(timer)
        reject(err)
      })
      child.once('exit', (code, signal) => {
        clearTimeout(timer)
        if (/address already in use/i.test(output)) reject(new PortInUseError(`port ${port} in use`))
        else reject(new Error(`redis-server exited (code ${code}, signal ${signal}) before it was ready:\n${output}`))
      })
    })
  } catch (err) {
    child.kill('SIGKILL')
    await exited
    throw err
  }
  // Keep draining the pipes so redis never blocks on a full stdout.
  child.stdout?.resume()
  child.stderr?.resume()
  return { child, exited }
}

export async function startRedis (opts: StartRedisOptions = {}): Promise<RedisHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'mcpgate-redis-'))
  const socketPath = join(dir, 'redis.sock')
  tempDirs.add(dir)
  let spawned: Spawned | undefined
  let port = 0
  for (let attempt = 0; spawned === undefined; attempt++) {
    port = await freePort()
    try {
      spawned = await spawnRedis(port, dir, socketPath, opts)
    } catch (err) {
      // Another test file may grab the port between freePort() and redis binding it.
      if (!(err instanceof PortInUseError) || attempt >= 9) {
        rmSync(dir, { recursive: true, force: true })
        tempDirs.delete(dir)
        throw err
      }
    }
  }

  let current: Spawned = spawned
  let inspector: Redis | undefined
  let stopped = false

  async function signal (sig: NodeJS.Signals): Promise<void> {
    if (current.child.exitCode === null && current.child.signalCode === null) {
      current.child.kill(sig)
      // A stopped process does not act on SIGTERM until continued.
      if (sig === 'SIGTERM') current.child.kill('SIGCONT')
    }
    await current.exited
  }

  const handle: RedisHandle = {
    url: `redis://127.0.0.1:${port}`,
    port,
    socketPath,
    get pid () { return current.child.pid ?? -1 },
    async stop () {
      if (stopped) return
      stopped = true
      inspector?.disconnect()
      await signal('SIGTERM')
      rmSync(dir, { recursive: true, force: true })
      tempDirs.delete(dir)
    },
    async kill () {
      await signal('SIGKILL')
    },
    async restart () {
      if (stopped) throw new Error('restart() after stop()')
      await signal('SIGKILL')
      // The port was ours a moment ago; a short retry loop covers TIME_WAIT-free rebind races.
      for (let attempt = 0; ; attempt++) {
        try {
          current = await spawnRedis(port, dir, socketPath, opts)
          return
        } catch (err) {
          if (!(err instanceof PortInUseError) || attempt >= 20) throw err
        }
      }
    },
    pause () {
      current.child.kill('SIGSTOP')
    },
    resume () {
      current.child.kill('SIGCONT')
    },
    client () {
      if (stopped) throw new Error('client() after stop()')
      if (inspector === undefined) {
        inspector = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1, retryStrategy: times => Math.min(times * 50, 500) })
        // Inspection failures surface on the commands themselves; keep the event quiet.
        inspector.on('error', () => {})
      }
      return inspector
    },
    async monitor () {
      const client = handle.client()
      await client.ping()
      return await client.monitor()
    }
  }
  return handle
}

export interface SentinelHandle {
  /** redis+sentinel://127.0.0.1:PORT/<name>: what `store.url` takes. */
  readonly url: string
  readonly port: number
  readonly name: string
  /** A plain client of the sentinel (SENTINEL commands, subscriptions to its events). */
  client(): Redis
  /**
   * Subscribes to the sentinel's `+switch-master` events; once this resolves, `next` is the next
   * one: "<name> <old ip> <old port> <new ip> <new port>".
   */
  watchSwitch(): Promise<{ next: Promise<string> }>
  stop(): Promise<void>
}

/**
 * One Redis Sentinel watching `primary` as `name` (quorum 1), deciding a primary is down after
 * `downAfterMs` without an answer. Ready once it has found the primary's replicas (it asks the
 * primary at start), so a failover has somewhere to go.
 */
export async function startSentinel (primary: RedisHandle, opts: { name?: string, downAfterMs?: number, replicas: number }): Promise<SentinelHandle> {
  const name = opts.name ?? 'mcpgate-primary'
  const dir = mkdtempSync(join(tmpdir(), 'mcpgate-sentinel-'))
  tempDirs.add(dir)
  const conf = join(dir, 'sentinel.conf')
  let spawned: Spawned | undefined
  let port = 0
  for (let attempt = 0; spawned === undefined; attempt++) {
    port = await freePort()
    // Sentinel rewrites its config file: it must be its own, in a writable place.
    writeFileSync(conf, [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${name} 127.0.0.1 ${primary.port} 1`,
      `sentinel down-after-milliseconds ${name} ${opts.downAfterMs ?? 200}`,
      `sentinel failover-timeout ${name} 5000`,
      ''
    ].join('\n'))
    try {
      // The log line naming the last replica found: "+slave slave 127.0.0.1:PORT …".
      spawned = await spawnServer([conf, '--sentinel', '--logfile', ''], opts.replicas > 0 ? '+slave' : '+monitor', port, 10_000)
    } catch (err) {
      if (!(err instanceof PortInUseError) || attempt >= 9) throw err
    }
  }
  const current = spawned
  const clients: Redis[] = []
  const connect = (): Redis => {
    const c = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 })
    c.on('error', () => {})
    clients.push(c)
    return c
  }
  let inspector: Redis | undefined
  return {
    url: `redis+sentinel://127.0.0.1:${port}/${name}`,
    port,
    name,
    client () {
      inspector ??= connect()
      return inspector
    },
    async watchSwitch () {
      const sub = connect()
      const next = new Promise<string>(resolve => {
        sub.once('message', (_channel: string, message: string) => {
          sub.disconnect()
          resolve(message)
        })
      })
      await sub.subscribe('+switch-master')
      return { next }
    },
    async stop () {
      for (const c of clients) c.disconnect()
      if (current.child.exitCode === null && current.child.signalCode === null) current.child.kill('SIGTERM')
      await current.exited
      rmSync(dir, { recursive: true, force: true })
      tempDirs.delete(dir)
    }
  }
}
