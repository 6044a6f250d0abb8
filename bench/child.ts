// Child-process plumbing shared by the bench servers: each server under test runs in its own
// process (own event loop, own RSS) and tells the runner its port over the IPC channel.
import { parseArgs } from 'node:util'

export interface ReadyMessage {
  ready: true
  port: number
  pid: number
}

/** Sends the ready message to the runner (or prints it when started by hand). */
export function announceReady (port: number): void {
  const msg: ReadyMessage = { ready: true, port, pid: process.pid }
  if (process.send !== undefined) process.send(msg)
  else process.stdout.write(JSON.stringify(msg) + '\n')
}

/** What a child reports when asked for its memory (bytes): RSS beside the V8 heap. */
export interface MemoryReport {
  memory: NodeJS.MemoryUsage
}

/** Answers `{ memory: true }` on the IPC channel with a MemoryReport (bench/run.ts records it). */
export function answerMemoryQueries (): void {
  process.on('message', (msg: { memory?: boolean }) => {
    if (msg?.memory !== true || process.send === undefined) return
    process.send({ memory: process.memoryUsage() } satisfies MemoryReport)
  })
}

/** Exits when the runner goes away, so an aborted run leaves no servers behind. */
export function exitWithParent (close: () => Promise<void> | void): void {
  const stop = () => {
    Promise.resolve(close()).finally(() => process.exit(0))
  }
  process.on('disconnect', stop)
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

/** `--name value` options shared by the bench servers. */
export function childOptions (): Record<string, string | undefined> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      upstream: { type: 'string' },
      config: { type: 'string' }
    },
    strict: true
  })
  return values
}
