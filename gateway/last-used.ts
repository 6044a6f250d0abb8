// lastUsedAt off the request path: requests only touch an in-memory map; a timer writes it to the
// store in one batch every `gateway.lastUsedFlushMs`, and close() writes what is left.
import type { Clock } from '../core/clock.ts'
import type { KeyStore } from '../core/store/store.ts'

export interface LastUsedOptions {
  store: KeyStore
  clock: Clock
  flushMs: number
  onFlushed?: () => void
  onError?: (err: unknown) => void
}

export class LastUsedRecorder {
  #pending = new Map<string, number>()
  #timer: NodeJS.Timeout | undefined
  #flushing: Promise<void> | undefined

  constructor (private readonly options: LastUsedOptions) {}

  get pendingCount (): number { return this.#pending.size }

  touch (keyId: string): void {
    this.#pending.set(keyId, this.options.clock.now())
  }

  /** flushMs 0 means: only on close(). */
  start (): void {
    if (this.options.flushMs <= 0 || this.#timer !== undefined) return
    this.#timer = setInterval(() => { this.flush().catch(() => {}) }, this.options.flushMs)
    this.#timer.unref()
  }

  flush (): Promise<void> {
    // One batch at a time: a slow store must not pile up concurrent writes.
    this.#flushing ??= this.#write().finally(() => { this.#flushing = undefined })
    return this.#flushing
  }

  async close (): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
    await this.#flushing
    await this.flush()
  }

  async #write (): Promise<void> {
    if (this.#pending.size === 0) return
    const batch = this.#pending
    this.#pending = new Map()
    try {
      await this.options.store.recordLastUsed(batch)
      this.options.onFlushed?.()
    } catch (err) {
      // Keep the batch for the next flush; newer touches meanwhile win.
      for (const [keyId, at] of batch) if (!this.#pending.has(keyId)) this.#pending.set(keyId, at)
      this.options.onError?.(err)
    }
  }
}
