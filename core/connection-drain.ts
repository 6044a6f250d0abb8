// Graceful close of an HTTP server (the gateway's and the admin API's), run from fastify's
// preClose hook: stop accepting, end standalone SSE streams cleanly, give in-flight requests up to
// `graceMs` to finish, then cut what is left — so app.close() is bounded and the process can flush
// last-used and exit 0.
// Node's server.close() alone is not enough: it waits for every connection, and a connection a
// client opened but has not sent a request on yet (clients pre-connect) counts as busy until
// headersTimeout (60 s); open SSE streams never end by themselves.
import type { Server, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'

/** After the grace period: how long connections get to flush what was already written. */
const FLUSH_MS = 1000

interface OpenStream {
  /** A standalone stream (GET) has no end of its own; a POST's SSE response ends with its answer. */
  standalone: boolean
  end: () => void
}

/**
 * The response Node is writing on `socket`, or null between requests. Node's own field (an
 * undocumented one, stable since its first releases): set from the moment a request's headers are
 * parsed (pipelined requests wait in line) until that response has finished, then cleared. Read
 * here instead of remembering each connection's last response: a map of those held every idle
 * keep-alive connection's last request — its whole object graph — alive until the connection's
 * next request, long enough for young GCs to promote it (bench/README.md, round 9).
 */
function responseOn (socket: Socket): ServerResponse | null {
  return (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage ?? null
}

export class ConnectionDrain {
  /** Every open client connection. Nothing is added per request: see responseOn(). */
  readonly #sockets = new Set<Socket>()
  readonly #streams = new Map<ServerResponse, OpenStream>()
  #closing = false

  constructor (private readonly server: Server) {
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket)
      socket.once('close', () => {
        this.#sockets.delete(socket)
        this.#check()
      })
    })
  }

  /**
   * Closing: the connection goes once the response in progress is out, or after the next one
   * if another (pipelined) request was waiting behind it — keep-alive would hold it otherwise.
   */
  #watch (socket: Socket, res: ServerResponse): void {
    res.once('close', () => {
      // 'close' comes a tick after the response finished: a pipelined one is attached by then.
      const next = responseOn(socket)
      if (next === null || next === res) socket.destroySoon()
      else this.#watch(socket, next)
      this.#check()
    })
  }

  /**
   * An SSE response being piped to the client; `end` must finish it cleanly (the terminating
   * chunk), so that clients see a closed stream and reconnect elsewhere, not a reset.
   */
  trackStream (res: ServerResponse, stream: OpenStream): void {
    if (this.#closing && stream.standalone) {
      stream.end()
      return
    }
    this.#streams.set(res, stream)
    res.once('close', () => this.#streams.delete(res))
  }

  /** Connections with a response in progress. */
  get busy (): number {
    let n = 0
    for (const socket of this.#sockets) {
      const res = responseOn(socket)
      if (res !== null && !done(res)) n++
    }
    return n
  }

  /** Stop accepting, drain for at most `graceMs`, then end streams and cut connections left. */
  async close (graceMs: number): Promise<void> {
    if (this.#closing) return
    this.#closing = true
    // No new connections; fastify's own server.close() later finds it closed, which it accepts.
    if (this.server.listening) this.server.close()
    for (const stream of [...this.#streams.values()]) if (stream.standalone) stream.end()
    for (const socket of this.#sockets) {
      const res = responseOn(socket)
      if (res === null || done(res)) socket.destroy()
      else this.#watch(socket, res)
    }
    await this.#waitFor(() => this.busy === 0, graceMs)

    // Grace is over: streams still open end cleanly, other responses are cut; each connection
    // closes once what was written is flushed (bounded too: a client may not be reading).
    for (const stream of [...this.#streams.values()]) stream.end()
    for (const socket of this.#sockets) socket.destroySoon()
    await this.#waitFor(() => this.#sockets.size === 0, FLUSH_MS)
    for (const socket of this.#sockets) socket.destroy()
  }

  async #waitFor (done: () => boolean, ms: number): Promise<void> {
    if (done()) return
    let timer: NodeJS.Timeout | undefined
    await new Promise<void>(resolve => {
      timer = setTimeout(resolve, ms)
      this.#check = () => { if (done()) resolve() }
    })
    clearTimeout(timer)
    this.#check = noop
  }

  /** Re-evaluated whenever a request or connection ends. */
  #check: () => void = noop
}

function noop (): void {}

/** The response is complete, or was cut: either way nothing more is written for it. */
function done (res: ServerResponse): boolean {
  return res.writableFinished || res.destroyed
}
