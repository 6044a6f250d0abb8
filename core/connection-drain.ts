// Graceful close of an HTTP server (the gateway's and the admin API's), run from fastify's
// preClose hook: stop accepting, end standalone SSE streams cleanly, give in-flight requests up to
// `graceMs` to finish, then cut what is left — so app.close() is bounded and the process can flush
// last-used and exit 0.
// Node's server.close() alone is not enough: it waits for every connection, and a connection a
// client opened but has not sent a request on yet (clients pre-connect) counts as busy until
// headersTimeout (60 s); open SSE streams never end by themselves.
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'

/** After the grace period: how long connections get to flush what was already written. */
const FLUSH_MS = 1000

interface OpenStream {
  /** A standalone stream (GET) has no end of its own; a POST's SSE response ends with its answer. */
  standalone: boolean
  end: () => void
}

export class ConnectionDrain {
  /**
   * Every open client connection → the last response started on it (null: none yet). HTTP/1.1
   * answers in order, so the connection is idle once that one is done. Nothing is added to each
   * response until the drain starts: a listener per request cost every request (bench/README.md).
   */
  readonly #sockets = new Map<Socket, ServerResponse | null>()
  readonly #streams = new Map<ServerResponse, OpenStream>()
  #closing = false

  constructor (private readonly server: Server) {
    server.on('connection', (socket: Socket) => {
      this.#sockets.set(socket, null)
      socket.once('close', () => {
        this.#sockets.delete(socket)
        this.#check()
      })
    })
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const socket = req.socket
      if (!this.#sockets.has(socket)) return
      this.#sockets.set(socket, res)
      if (this.#closing) this.#watch(socket, res)
    })
  }

  /** Closing: a connection whose last response is out goes too (keep-alive would hold it). */
  #watch (socket: Socket, res: ServerResponse): void {
    res.once('close', () => {
      if (this.#sockets.get(socket) === res) socket.destroySoon()
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
    for (const res of this.#sockets.values()) if (res !== null && !done(res)) n++
    return n
  }

  /** Stop accepting, drain for at most `graceMs`, then end streams and cut connections left. */
  async close (graceMs: number): Promise<void> {
    if (this.#closing) return
    this.#closing = true
    // No new connections; fastify's own server.close() later finds it closed, which it accepts.
    if (this.server.listening) this.server.close()
    for (const stream of [...this.#streams.values()]) if (stream.standalone) stream.end()
    for (const [socket, res] of this.#sockets) {
      if (res === null || done(res)) socket.destroy()
      else this.#watch(socket, res)
    }
    await this.#waitFor(() => this.busy === 0, graceMs)

    // Grace is over: streams still open end cleanly, other responses are cut; each connection
    // closes once what was written is flushed (bounded too: a client may not be reading).
    for (const stream of [...this.#streams.values()]) stream.end()
    for (const socket of this.#sockets.keys()) socket.destroySoon()
    await this.#waitFor(() => this.#sockets.size === 0, FLUSH_MS)
    for (const socket of this.#sockets.keys()) socket.destroy()
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
