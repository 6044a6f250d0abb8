// One proxied request as undici sees it: the dispatch handler reply-from's request goes through.
// undici's own `request()` wraps every response body in a Readable that Fastify then pipes into
// the client response (two stream machines, an AsyncResource and an AbortSignal per request).
// Here undici's parser hands each body chunk straight to the client response — the same bytes,
// in the same order, with backpressure (a full client socket pauses the upstream socket) — which
// halves the CPU a proxied request costs (bench/README.md, "Profile").
import type { IncomingHttpHeaders } from 'node:http'
import type { Writable } from 'node:stream'
import { util, type Dispatcher } from 'undici'

/** What reply-from receives from the dispatcher's request(): it passes `body` on as `stream`. */
export interface UpstreamHead {
  statusCode: number
  headers: IncomingHttpHeaders
  body: UpstreamExchange
}

type Callback = (err: Error | null, head: UpstreamHead | null) => void

/** Looks at the first bytes of a body on their way through (sse-endpoint-rewrite.ts). */
export interface BodyFilter {
  /** The bytes to pass on now for `chunk` (may be empty: held until more come). */
  feed (chunk: Buffer): Buffer
  /** True once every later byte passes untouched: the filter is then dropped. */
  readonly done: boolean
  /** At the end of the body: what it still holds. */
  flush (): Buffer
}

const parseHeaders = util.parseHeaders as (raw: Buffer[] | string[] | null, obj?: IncomingHttpHeaders) => IncomingHttpHeaders

class ClientGone extends Error {
  override readonly name = 'ClientGone'
  readonly code = 'MCPGATE_CLIENT_GONE'
}

/**
 * undici's (v7 core) dispatch handler for one upstream request. Before the response headers it
 * reports to reply-from through `callback`; after them the proxy connects the body with pipeTo().
 */
export class UpstreamExchange implements Dispatcher.DispatchHandler {
  #callback: Callback | null
  #abort: ((reason: Error) => void) | null = null
  #resume: (() => void) | null = null
  #target: Writable | null = null
  #filter: BodyFilter | null = null
  #gone = false
  #ended = false
  #waitingForTarget = false
  /** Called once when the exchange is over: body complete, failed or aborted (metrics). */
  onDone: (() => void) | null = null
  /** Told a failure after the response headers (the client response is cut); for the log. */
  onBodyError: ((err: Error) => void) | null = null

  constructor (callback: Callback) {
    this.#callback = callback
  }

  /** True once abort() was called (the client went away or the proxy refused the response). */
  get aborted (): boolean {
    return this.#gone
  }

  /**
   * Stops the upstream request wherever it is (queued, sending, receiving). The client response
   * is not touched: the caller decides how it ends.
   */
  abort (): void {
    if (this.#gone || this.#ended) return
    this.#gone = true
    this.#target = null
    this.#abort?.(new ClientGone('the client went away'))
  }

  /** reply-from calls this on a response it will not relay (its client went away meanwhile). */
  destroy (): void {
    this.abort()
  }

  /**
   * Relays the body into `target` (the client response), through `filter` until the filter is
   * done, and ends it when the upstream response ends. Called once, right after the response
   * headers.
   */
  pipeTo (target: Writable, filter?: BodyFilter): void {
    if (this.#gone) return
    this.#target = target
    this.#filter = filter ?? null
    if (this.#waitingForTarget) {
      this.#waitingForTarget = false
      this.#resume?.()
    }
  }

  onConnect (abort: (reason?: Error) => void): void {
    if (this.#gone) abort(new ClientGone('the client went away'))
    else this.#abort = abort
  }

  onHeaders (statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    // 1xx interim responses are not relayed (MCP servers do not send them); wait for the final one.
    if (statusCode < 200) return true
    this.#resume = resume
    const callback = this.#callback
    this.#callback = null
    callback?.(null, { statusCode, headers: parseHeaders(rawHeaders), body: this })
    // The proxy connected the body during the callback, or refused it; otherwise hold the bytes.
    if (this.#target !== null || this.#gone) return true
    this.#waitingForTarget = true
    return false
  }

  onData (chunk: Buffer): boolean {
    const target = this.#target
    if (target === null) return !this.#waitingForTarget
    const filter = this.#filter
    if (filter !== null) {
      chunk = filter.feed(chunk)
      if (filter.done) this.#filter = null
      if (chunk.length === 0) return true
    }
    if (target.write(chunk)) return true
    // The client reads slower than the upstream sends: pause the upstream socket until it drains.
    target.once('drain', () => { if (!this.#gone) this.#resume?.() })
    return false
  }

  onComplete (): void {
    this.#ended = true
    const target = this.#target
    this.#target = null
    const held = this.#filter?.flush()
    this.#filter = null
    if (held !== undefined && held.length > 0) target?.write(held)
    target?.end()
    this.#finish()
  }

  onError (err: Error): void {
    this.#ended = true
    const callback = this.#callback
    this.#callback = null
    if (callback !== null) {
      // No response yet: reply-from maps the error (502/503/504) unless the client is gone.
      callback(err, null)
    } else if (!this.#gone) {
      const target = this.#target
      this.#target = null
      this.onBodyError?.(err)
      target?.destroy()
    }
    this.#finish()
  }

  #finish (): void {
    const done = this.onDone
    this.onDone = null
    done?.()
  }
}
