// Target (f), a reference: the least a Node proxy on undici can do per request — node:http and
// one undici Agent, each answer relayed by a dispatch handler as undici parses it. No Fastify, no
// reply-from, no authentication, logging or metrics. A target it misses in a run was out of reach,
// in that run, for any Node proxy on undici (bench/README.md, round 10). Same public
// paths as mcpgate: /mcp-connect/bench[/rest] → the upstream's /mcp[/rest].
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import { Agent, util, type Dispatcher } from 'undici'
import { announceReady, childOptions, exitWithParent } from './child.ts'

const opts = childOptions()
if (opts.upstream === undefined) throw new Error('node-floor: --upstream http://127.0.0.1:PORT is required')
const origin = opts.upstream
const PREFIX = '/mcp-connect/bench'
const agent = new Agent({ connections: 128, keepAliveTimeout: 4000 })
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

const server = createServer((req, res) => {
  const url = req.url ?? ''
  if (!url.startsWith(PREFIX)) {
    res.writeHead(404).end()
    return
  }
  const method = (req.method ?? 'GET') as Dispatcher.HttpMethod
  agent.dispatch({
    origin,
    path: '/mcp' + url.slice(PREFIX.length),
    method,
    headers: forwarded(req.headers),
    body: method === 'GET' || method === 'HEAD' ? null : req,
    headersTimeout: 30_000,
    bodyTimeout: 0
  }, new Relay(res))
})
server.listen(Number(opts.port ?? 0), '127.0.0.1', () => {
  const addr = server.address()
  announceReady(typeof addr === 'object' && addr !== null ? addr.port : 0)
})
exitWithParent(async () => {
  server.closeAllConnections()
  await new Promise<void>(resolve => server.close(() => resolve()))
  await agent.close()
})
