// The stack's floor, for bench/variants.ts (`script:bench/floor-proxy.ts`): Fastify 5 and one
// undici Agent, a route that hands the request body to undici and relays the answer through a
// dispatch handler — no authentication, no logging, no metrics, no reply-from, no header
// filtering. What a proxied request costs before any of mcpgate's features (bench/README.md).
import type { ServerResponse } from 'node:http'
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import { Agent, util, type Dispatcher } from 'undici'
import { announceReady, childOptions, exitWithParent } from './child.ts'

const opts = childOptions()
if (opts.upstream === undefined) throw new Error('floor-proxy: --upstream http://127.0.0.1:PORT is required')
const origin = opts.upstream
const agent = new Agent({ connections: 128, keepAliveTimeout: 4000 })
/** Hop-by-hop headers, and the client's credentials and Host, which are not the upstream's. */
const NOT_FORWARDED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'authorization', 'host'])

/** The answer's head, then each chunk, written to the client as undici parses them. */
class Relay implements Dispatcher.DispatchHandler {
  constructor (readonly res: ServerResponse) {}
  onConnect (): void {}
  onHeaders (statusCode: number, raw: Buffer[]): boolean {
    const headers = util.parseHeaders(raw) as Record<string, string | string[]>
    for (const name of NOT_FORWARDED) delete headers[name]
    this.res.writeHead(statusCode, headers)
    return true
  }

  // Small answers: no backpressure to honour here.
  onData (chunk: Buffer): boolean { this.res.write(chunk); return true }
  onComplete (): void { this.res.end() }
  onError (err: Error): void { this.res.destroy(err) }
}

const app = Fastify()
app.removeAllContentTypeParsers()
app.addContentTypeParser('*', (_request, payload, done) => { done(null, payload) })
const PREFIX = '/mcp-connect/bench'
const handler = (request: FastifyRequest, reply: FastifyReply): void => {
  reply.hijack()
  const headers: Record<string, string | string[]> = {}
  for (const name in request.headers) {
    const value = request.headers[name]
    if (value !== undefined && !NOT_FORWARDED.has(name)) headers[name] = value
  }
  const get = request.method === 'GET'
  const path = '/mcp' + request.url.slice(PREFIX.length)
  agent.dispatch({ origin, path, method: get ? 'GET' : 'POST', headers, body: get ? null : request.raw, headersTimeout: 30_000, bodyTimeout: 0 }, new Relay(reply.raw))
}
// POST for the load, GET …/sse for the SSE figures.
app.route({ method: ['GET', 'POST'], url: `${PREFIX}`, handler })
app.route({ method: ['GET', 'POST'], url: `${PREFIX}/*`, handler })
await app.listen({ port: Number(opts.port ?? 0), host: '127.0.0.1' })
const addr = app.server.address()
announceReady(typeof addr === 'object' && addr !== null ? addr.port : 0)
exitWithParent(async () => {
  await app.close()
  await agent.close()
})
