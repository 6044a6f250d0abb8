// argon2id verification at the lowest CPU priority, for the gateway (and the admin API's OAuth
// token endpoint, which verifies keys sent as a client_secret). One verification is ~15 ms
// of CPU, and on a busy gateway it competes with proxied requests for the same cores: a flood of
// wrong secrets for many key ids would take that CPU from valid traffic (bench: "wrong-secret
// flood"). Here verifications run on worker threads that lower their own priority to nice 19
// (Linux schedules threads individually), so they get the CPU the event loop leaves idle, and the
// concurrency cap and rates in guards.ts bound how many wait. Elsewhere (or if a worker cannot
// start) verification runs as before, on libuv's pool at normal priority.
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
import { verifySecret } from './hashing.ts'

/** CommonJS source of each worker: argon2's synchronous verify, on this thread, at nice 19. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const { readlinkSync } = require('node:fs')
const { setPriority } = require('node:os')
const { verifySync } = require(workerData.argon2)
try {
  // /proc/thread-self → <pid>/task/<tid>: setpriority on a thread id affects that thread only.
  setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), 19)
} catch {}
parentPort.on('message', ({ id, phc, secret }) => {
  let valid = false
  try { valid = verifySync(phc, secret) } catch {}
  parentPort.postMessage({ id, valid })
})
`

interface Pending {
  resolve: (valid: boolean) => void
  phc: string
  secret: string
}

interface VerifierThread {
  worker: Worker
  pending: Map<number, Pending>
  /** Armed while nothing is pending: the worker exits when it fires. */
  idle: NodeJS.Timeout | null
}

/**
 * A worker with nothing to verify for this long exits, and gives back its ~6 MB (an isolate and
 * its heaps); the next verification starts one again (~30 ms, once). Cached keys need none.
 */
const IDLE_MS = 30_000

export class LowPriorityVerifier {
  readonly #threads: VerifierThread[] = []
  readonly #size: number
  readonly #idleMs: number
  #next = 0
  #ids = 0
  #closed = false

  /** `size`: worker threads, started on first use (the gateway passes maxConcurrentVerifications). */
  constructor (size: number, options: { idleMs?: number } = {}) {
    this.#size = Math.max(1, size)
    this.#idleMs = options.idleMs ?? IDLE_MS
  }

  /** Worker threads running now. */
  get threads (): number { return this.#threads.length }

  /** Same contract as verifySecret: a malformed stored hash is a failed verification. */
  verify (phc: string, secret: string): Promise<boolean> {
    const thread = this.#closed ? null : this.#thread()
    if (thread === null) return verifySecret(phc, secret)
    const id = ++this.#ids
    if (thread.idle !== null) {
      clearTimeout(thread.idle)
      thread.idle = null
    }
    return new Promise(resolve => {
      thread.pending.set(id, { resolve, phc, secret })
      thread.worker.postMessage({ id, phc, secret })
    })
  }

  /** Round robin over the threads, starting them on demand; null if a worker cannot start. */
  #thread (): VerifierThread | null {
    if (this.#threads.length < this.#size) {
      const started = this.#start()
      if (started !== null) return started
    }
    if (this.#threads.length === 0) return null
    this.#next = (this.#next + 1) % this.#threads.length
    return this.#threads[this.#next] ?? null
  }

  #start (): VerifierThread | null {
    let worker: Worker
    try {
      const argon2 = createRequire(import.meta.url).resolve('@node-rs/argon2')
      // Its heap holds a few small objects: cap the young generation (the default reserves MBs).
      worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { argon2 }, resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 16 } })
    } catch {
      return null
    }
    worker.unref()
    const thread: VerifierThread = { worker, pending: new Map(), idle: null }
    worker.on('message', ({ id, valid }: { id: number, valid: boolean }) => {
      const p = thread.pending.get(id)
      thread.pending.delete(id)
      p?.resolve(valid === true)
      if (thread.pending.size === 0) thread.idle = setTimeout(() => { this.#retire(thread) }, this.#idleMs).unref()
    })
    // A worker that dies hands its pending verifications to the in-process path; the next call
    // starts a new one.
    const failed = (): void => {
      this.#unlink(thread)
      for (const p of thread.pending.values()) verifySecret(p.phc, p.secret).then(p.resolve, () => p.resolve(false))
      thread.pending.clear()
    }
    worker.on('error', failed)
    worker.on('exit', failed)
    this.#threads.push(thread)
    return thread
  }

  /** Idle for idleMs: out of the rotation at once, then gone. */
  #retire (thread: VerifierThread): void {
    if (thread.pending.size > 0) return
    this.#unlink(thread)
    thread.worker.terminate().catch(() => {})
  }

  #unlink (thread: VerifierThread): void {
    if (thread.idle !== null) clearTimeout(thread.idle)
    thread.idle = null
    const i = this.#threads.indexOf(thread)
    if (i >= 0) this.#threads.splice(i, 1)
  }

  async close (): Promise<void> {
    this.#closed = true
    const threads = this.#threads.splice(0)
    for (const t of threads) if (t.idle !== null) clearTimeout(t.idle)
    await Promise.all(threads.map(t => t.worker.terminate()))
  }
}
