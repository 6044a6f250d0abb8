// What the two reference proxies share (bench/node-floor.ts without Fastify, bench/floor-proxy.ts
// with it): one undici Agent, and a dispatch handler relaying each answer to the client as undici
// parses it. Nothing else: no authentication, logging, metrics or reply-from.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import { Agent, util, type Dispatcher } from 'undici'

/** Hop-by-hop headers, and the client's credentials and Host, which are not the upstream's. */
const NOT_FORWARDED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'authorization', 'host'])

function forwarded (input: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const name in input) {
    const value = input[name]
    if (value !== undefined && !NOT_FORWARDED.has(name)) out[name] = value
  }
  return out
}

/** The answer's head, then each chunk as undici parses it; a slow client pauses the upstream. */
class Relay implements Dispatcher.DispatchHandler {
  #abort: ((err?: Error) => void) | undefined
  constructor (readonly res: ServerResponse) {
    res.on('close', () => { if (!res.writableFinished) this.#abort?.() })
  }

  onConnect (abort: (err?: Error) => void): void { this.#abort = abort }
  onHeaders (statusCode: number, raw: Buffer[], resume: () => void): boolean {
    this.res.on('drain', resume)
    this.res.writeHead(statusCode, forwarded(util.parseHeaders(raw) as IncomingHttpHeaders))
    return true
  }

  onData (chunk: Buffer): boolean { return this.res.write(chunk) }
  onComplete (): void { this.res.end() }
  onError (err: Error): void {
    if (this.res.headersSent) this.res.destroy(err)
    else this.res.writeHead(502).end()
  }
}

/** One Agent to the upstream; send() relays a client request's answer into its response. */
export class FloorRelay {
  readonly #agent = new Agent({ connections: 128, keepAliveTimeout: 4000 })
  constructor (private readonly origin: string) {}

  /** Sends `req` (its body, unless GET or HEAD) to the upstream's `path`; the answer goes to `res`. */
  send (req: IncomingMessage, path: string, res: ServerResponse): void {
    const method = (req.method ?? 'GET') as Dispatcher.HttpMethod
    this.#agent.dispatch({
      origin: this.origin,
      path,
      method,
      headers: forwarded(req.headers),
      body: method === 'GET' || method === 'HEAD' ? null : req,
      headersTimeout: 30_000,
      bodyTimeout: 0
    }, new Relay(res))
  }

  close (): Promise<void> {
    return this.#agent.close()
  }
}
