// One proxied request as undici sees it: the dispatch handler (undici's handler/controller API)
// that relays the upstream response straight into the client response — the same bytes, in the
// same order, with backpressure (a client that stops reading pauses the upstream socket), no
// stream objects in between. It also ends the exchange early when told to: the client left
// (abort upstream), or the gateway cut it (revocation, shutdown: a clean end for an SSE stream).
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import type { Dispatcher } from 'undici'
import type { Principal } from './auth.ts'
import type { RegisteredServer } from './registry.ts'
import type { McpPlan } from './tool-enforcement.ts'
import { clientResponseHeaders, isEventStream } from './upstream-headers.ts'
import { fromUpstreamAuthFailure, fromUpstreamFailure, isUpstreamAuthFailure } from './upstream-errors.ts'

/** Looks at the bytes of a body on their way through (sse-endpoint-rewrite.ts). */
export interface BodyFilter {
  /** The bytes to pass on now for `chunk` (may be empty: held until more come). */
  feed (chunk: Buffer): Buffer
  /** True once every later byte passes untouched: the filter is then dropped. */
  readonly done: boolean
  /** At the end of the body: what it still holds. */
  flush (): Buffer
}

/** What a standalone GET stream or a POST's answer counts against (upstream.ts, per server). */
export type ExchangeKind = 'stream' | 'request'

/**
 * A whole (non-stream) body rewritten before it goes out: the per-tool list filter, and the
 * answers the gateway gave itself merged into a batch's. The status may change (an upstream 202
 * for a batch whose calls the gateway answered becomes 200).
 */
export type BodyRewrite = (status: number, body: Buffer) => { status: number, body: Buffer, contentType?: string }

/** A body held whole for a rewrite may be this long; a longer one is cut (502). */
export const MAX_REWRITTEN_BODY = 32 * 1024 * 1024

/** What the hop decides when the response headers come. */
export interface ResponsePlan {
  /** Nothing reaches the client until it settles (a session is bound before the client learns its id). */
  hold: Promise<void> | null
  /** For an event stream: a filter its bytes go through. */
  filter: BodyFilter | null
  /** For any other body: held whole and rewritten. */
  rewrite: BodyRewrite | null
}

/**
 * What the hop tells the exchange at its turning points. `responding` plans the response: hold
 * it, filter a stream, rewrite a whole body.
 */
export interface ExchangeHooks {
  responding (exchange: UpstreamExchange, status: number, headers: IncomingHttpHeaders): ResponsePlan
  /** Once, when the exchange is over however it ended. */
  finished (exchange: UpstreamExchange): void
  /** The upstream failed after the response had started: the client response was cut. */
  failedMidway (exchange: UpstreamExchange, err: Error): void
}

class ClientGone extends Error {
  override readonly name = 'ClientGone'
  readonly code = 'MCPGATE_CLIENT_GONE'
}

class ExchangeCut extends Error {
  override readonly name = 'ExchangeCut'
  readonly code = 'MCPGATE_EXCHANGE_CUT'
}

const enum State { Waiting, Holding, Relaying, Over }

class BodyTooLong extends Error {
  override readonly name = 'BodyTooLong'
  readonly code = 'MCPGATE_BODY_TOO_LONG'
}

export class UpstreamExchange implements Dispatcher.DispatchHandler {
  readonly request: FastifyRequest
  readonly reply: FastifyReply
  readonly server: RegisteredServer
  readonly principal: Principal
  readonly kind: ExchangeKind
  /** performance.now() when it was dispatched. */
  readonly startedAt: number
  readonly #hooks: ExchangeHooks
  /** Per-tool scopes: what the request's inspection left for the answer (tool-enforcement.ts). */
  mcp: McpPlan | null = null
  /** A legacy GET stream answering refusals of its session: its key in the hop's registry. */
  legacyKey: string | null = null
  /** A GET stream's own upstream connection, destroyed when the exchange is over (upstream.ts). */
  ownConnection: Dispatcher | null = null
  #controller: Dispatcher.DispatchController | null = null
  #state = State.Waiting
  /** Asked to stop before undici handed over its controller. */
  #stopReason: Error | null = null
  #res: ServerResponse | null = null
  #filter: BodyFilter | null = null
  #stream = false
  /** Chunks that came while the response was held (before its headers went out). */
  #held: Buffer[] | null = null
  /** Bytes to write once a hold of the body ends (see holdBody). */
  #queue: Buffer[] | null = null
  /** A whole body being collected for a rewrite, its length, and the rewrite. */
  #whole: Buffer[] | null = null
  #wholeLength = 0
  #rewrite: BodyRewrite | null = null
  #status = 0
  #upstreamHeaders: IncomingHttpHeaders | null = null
  #ended = false
  #gone = false
  #cut = false
  #finished = false

  constructor (request: FastifyRequest, reply: FastifyReply, server: RegisteredServer, principal: Principal, kind: ExchangeKind, hooks: ExchangeHooks) {
    this.request = request
    this.reply = reply
    this.server = server
    this.principal = principal
    this.kind = kind
    this.#hooks = hooks
    this.startedAt = performance.now()
  }

  /** The client left: stop the upstream request wherever it is (queued, sending, receiving). */
  clientGone (): void {
    if (this.#state === State.Over || this.#gone) return
    this.#gone = true
    const waiting = this.#state === State.Waiting
    // Before any response undici reports the abort (onResponseError); after it, the relay is over now.
    if (!waiting) this.#state = State.Over
    this.#stop(new ClientGone('the client went away'))
    if (!waiting) this.#finish()
  }

  /**
   * The gateway ends the exchange (the key was revoked, shutdown): the upstream request stops;
   * a client still waiting gets `error`, an SSE stream a clean end, any other body is cut.
   * Returns false when it was over already.
   */
  cut (reason: string, error: FastifyError): boolean {
    if (this.#state === State.Over || this.#gone || this.#cut) return false
    this.#cut = true
    this.request.gate.cut(reason)
    const res = this.#res
    // Over first: undici may report the abort synchronously, and nothing more is relayed.
    this.#state = State.Over
    this.#held = null
    this.#stop(new ExchangeCut(reason))
    if (res === null) this.reply.send(error)
    else if (!res.writableEnded) {
      if (this.#stream) res.end()
      else res.destroy()
    }
    this.#finish()
    return true
  }

  /** The response is a relayed text/event-stream. */
  get stream (): boolean { return this.#stream }

  /**
   * Writes whole events of the gateway's own between the upstream's (an event stream's output
   * stops at event boundaries: filters hold partial events). False when the stream is not open.
   */
  inject (events: Buffer): boolean {
    if (this.#state !== State.Relaying || this.#res === null || !this.#stream) return false
    if (this.#queue !== null) this.#queue.push(events)
    else this.#res.write(events)
    return true
  }

  #stop (reason: Error): void {
    const controller = this.#controller
    if (controller === null) this.#stopReason = reason
    else if (!controller.aborted) controller.abort(reason)
  }

  onRequestStart (controller: Dispatcher.DispatchController): void {
    this.#controller = controller
    if (this.#stopReason !== null) controller.abort(this.#stopReason)
  }

  onResponseStart (controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    // 1xx interim responses are not relayed (MCP servers do not send them); wait for the final one.
    if (statusCode < 200 || this.#state !== State.Waiting) return
    if (this.#gone || this.#cut) {
      controller.abort(this.#stopReason ?? new ClientGone('the client went away'))
      return
    }
    const stream = isEventStream(headers['content-type'])
    this.request.gate.upstreamAnswered(statusCode, stream)
    if (isUpstreamAuthFailure(statusCode)) {
      this.#state = State.Over
      controller.abort(new ExchangeCut('upstream refused the gateway credentials'))
      this.request.log.warn({ serverId: this.server.id, upstreamStatus: statusCode }, 'upstream refused the gateway credentials')
      this.reply.send(fromUpstreamAuthFailure(statusCode))
      this.#finish()
      return
    }
    this.#stream = stream
    const { hold, filter, rewrite } = this.#hooks.responding(this, statusCode, headers)
    this.#filter = stream ? filter : null
    if (!stream && rewrite !== null) {
      // Held whole: the headers (Content-Length) go out with the rewritten body, at its end.
      this.#rewrite = rewrite
      this.#whole = []
      this.#status = statusCode
      this.#upstreamHeaders = headers
    }
    if (hold === null) {
      // A body held whole is collected now; its headers go out with it, at its end.
      if (this.#whole === null) this.#start(statusCode, headers)
      else this.#state = State.Relaying
      return
    }
    this.#state = State.Holding
    this.#held = []
    controller.pause()
    hold.then(() => {
      if (this.#state !== State.Holding) return
      if (this.#whole !== null) {
        // Collected from here on; what came while held is the body's start.
        this.#state = State.Relaying
        for (const chunk of this.#held ?? []) this.#collect(chunk)
        this.#held = null
        if (this.#ended) this.#end()
        else controller.resume()
        return
      }
      this.#start(statusCode, headers)
      const held = this.#held ?? []
      this.#held = null
      let open = true
      for (const chunk of held) open = this.#write(chunk)
      // A hold of the body (a legacy endpoint event among the held bytes) resumes or ends it.
      if (this.#queue !== null) return
      if (this.#ended) this.#end()
      else this.#resumeWhen(open)
    }, (err: unknown) => {
      if (this.#state !== State.Holding) return
      this.#state = State.Over
      controller.abort(err instanceof Error ? err : new Error(String(err)))
      this.reply.send(err)
      this.#finish()
    })
  }

  /** Takes the response over from Fastify and writes its status and headers. */
  #start (statusCode: number, upstream: IncomingHttpHeaders, length?: number): void {
    const { request, reply } = this
    const headers: OutgoingHttpHeaders = clientResponseHeaders(reply.getHeaders() as OutgoingHttpHeaders, upstream, request.headers.origin !== undefined)
    // A connection cannot be reused while the client is still sending a body the upstream did not wait for.
    if (!request.raw.complete) headers.connection = 'close'
    if (this.#stream) {
      // SSE: nothing may buffer or transform it, and headers go out now, not with the first event.
      headers['cache-control'] = 'no-cache, no-transform'
      headers['x-accel-buffering'] = 'no'
      if (this.#filter !== null) delete headers['content-length']
    }
    if (length !== undefined) {
      delete headers['transfer-encoding']
      headers['content-length'] = String(length)
    }
    reply.hijack()
    const res = reply.raw
    res.writeHead(statusCode, headers)
    this.#res = res
    this.#state = State.Relaying
    // The first event usually comes in the same read as the upstream's headers: it then carries
    // the headers out in one write (one packet, one wake-up of the client). A quiet stream gets
    // its headers at the end of this tick all the same.
    if (this.#stream) setImmediate(flushHeaders, res)
  }

  onResponseData (controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#state === State.Holding) {
      this.#held?.push(chunk)
      return
    }
    if (this.#state !== State.Relaying) return
    if (this.#whole !== null) {
      this.#collect(chunk)
      return
    }
    if (!this.#write(chunk)) {
      // The client reads slower than the upstream sends: pause the upstream socket until it drains.
      controller.pause()
      this.#resumeWhen(false)
    }
  }

  /** A chunk of a body held whole; past MAX_REWRITTEN_BODY the exchange fails (502). */
  #collect (chunk: Buffer): void {
    this.#wholeLength += chunk.length
    if (this.#wholeLength > MAX_REWRITTEN_BODY) {
      this.#controller?.abort(new BodyTooLong(`the upstream answer grew past ${MAX_REWRITTEN_BODY} bytes`))
      return
    }
    this.#whole?.push(chunk)
  }

  /** false when the client's buffer is full. */
  #write (chunk: Buffer): boolean {
    const filter = this.#filter
    if (filter !== null) {
      try {
        chunk = filter.feed(chunk)
      } catch (err) {
        // A stream the filter cannot read safely is cut, never passed unfiltered.
        this.#failMidway(err instanceof Error ? err : new Error(String(err)))
        return true
      }
      if (filter.done) this.#filter = null
      if (chunk.length === 0) return true
    }
    if (this.#queue !== null) {
      this.#queue.push(chunk)
      return true
    }
    return (this.#res as ServerResponse).write(chunk)
  }

  /**
   * Holds every byte from here on (the output of the chunk being fed included) until `until`
   * settles: a legacy SSE session is bound before its endpoint event reaches the client.
   */
  holdBody (until: Promise<void>): void {
    if (this.#state !== State.Relaying || this.#queue !== null) return
    this.#queue = []
    this.#controller?.pause()
    until.then(() => { this.#release() }, (err: unknown) => {
      this.request.log.warn({ serverId: this.server.id, err }, 'could not hold the response for its session binding; relayed anyway')
      this.#release()
    })
  }

  /** Writes what was held, then lets the upstream go on (or ends, if it finished meanwhile). */
  #release (): void {
    if (this.#state !== State.Relaying) return
    const queue = this.#queue ?? []
    this.#queue = null
    const res = this.#res as ServerResponse
    let open = true
    for (const chunk of queue) open = res.write(chunk)

    if (this.#ended) {
      this.#end()
      return
    }
    this.#resumeWhen(open)
  }

  /** Lets the upstream go on now, or once the client's buffer drains. */
  #resumeWhen (drained: boolean): void {
    const controller = this.#controller
    if (controller === null) return
    if (drained) controller.resume()
    else (this.#res as ServerResponse).once('drain', () => { if (this.#state === State.Relaying && this.#queue === null) controller.resume() })
  }

  onResponseEnd (): void {
    this.#ended = true
    if (this.#state === State.Relaying && this.#queue === null) this.#end()
  }

  #end (): void {
    if (this.#whole !== null) {
      this.#endRewritten()
      return
    }
    const res = this.#res as ServerResponse
    const held = this.#filter?.flush()
    this.#filter = null
    if (held !== undefined && held.length > 0) res.write(held)
    res.end()
    this.#finish()
  }

  /** The rewritten body, its status and Content-Length, in one go. */
  #endRewritten (): void {
    const whole = Buffer.concat(this.#whole ?? [])
    const rewrite = this.#rewrite as BodyRewrite
    this.#whole = null
    let out: ReturnType<BodyRewrite>
    try {
      out = rewrite(this.#status, whole)
    } catch (err) {
      this.#failMidway(err instanceof Error ? err : new Error(String(err)))
      return
    }
    const headers = this.#upstreamHeaders ?? {}
    if (out.contentType !== undefined) headers['content-type'] = out.contentType
    this.#start(out.status, headers, out.body.length)
    const res = this.#res as ServerResponse
    res.end(out.body)
    this.#finish()
  }

  /** The relay cannot go on: the upstream is stopped, the client response cut (or, before it started, a 502). */
  #failMidway (err: Error): void {
    if (this.#state === State.Over) return
    const started = this.#res !== null
    this.#state = State.Over
    this.#stop(err)
    this.#hooks.failedMidway(this, err)
    if (started) this.#res?.destroy()
    else this.reply.send(fromUpstreamFailure(err))
    this.#finish()
  }

  onResponseError (_controller: Dispatcher.DispatchController, err: Error): void {
    const state = this.#state
    if (state === State.Over) return
    if (state === State.Relaying && this.#whole !== null && err instanceof BodyTooLong) {
      this.#failMidway(err)
      return
    }
    if (state === State.Waiting) {
      this.#state = State.Over
      if (this.#gone) {
        // A client leaving is normal (the access line records it as 499): no warning, no stack.
        this.request.log.debug({ serverId: this.server.id }, 'client went away before the upstream answered')
      } else if (!this.#cut) {
        // No response yet: the failure is mapped to 502/503/504 (the cause is logged without
        // its stack: an unreachable upstream is an operating condition, not a bug).
        const mapped = fromUpstreamFailure(err)
        this.request.log.warn({ serverId: this.server.id, code: mapped.code, cause: causeOf(err) }, 'upstream request failed')
        this.reply.send(mapped)
      }
      this.#finish()
      return
    }
    if (!this.#gone && !this.#cut) {
      this.#hooks.failedMidway(this, err)
      // Held, or a body collected for a rewrite: the client has no response yet.
      if (this.#res === null) this.reply.send(fromUpstreamFailure(err))
      else this.#res.destroy()
    }
    this.#finish()
  }

  /** Once, however the exchange ended. */
  #finish (): void {
    this.#state = State.Over
    this.#held = null
    if (this.#finished) return
    this.#finished = true
    this.#hooks.finished(this)
  }
}

/** What failed, in a line: undici's code and message. */
function causeOf (err: Error): string {
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' ? `${code}: ${err.message}` : err.message
}

function flushHeaders (res: ServerResponse): void {
  // Puts no bytes on the wire once the first write carried them.
  if (!res.destroyed && !res.writableEnded) res.flushHeaders()
}
