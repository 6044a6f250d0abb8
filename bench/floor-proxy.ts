// The stack's floor, for bench/variants.ts (`script:bench/floor-proxy.ts`): Fastify 5 and the
// reference relay (bench/floor-relay.ts: one undici Agent, a dispatch handler) — no
// authentication, no logging, no metrics, no reply-from, no header filtering. What a proxied
// request costs before any of mcpgate's features (bench/README.md, rounds 7 and 10; until the
// relay was shared with bench/node-floor.ts its handler took no backpressure or abort listener).
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import { announceReady, childOptions, exitWithParent } from './child.ts'
import { FloorRelay } from './floor-relay.ts'

const opts = childOptions()
if (opts.upstream === undefined) throw new Error('floor-proxy: --upstream http://127.0.0.1:PORT is required')
const PREFIX = '/mcp-connect/bench'
const relay = new FloorRelay(opts.upstream)

const app = Fastify()
app.removeAllContentTypeParsers()
app.addContentTypeParser('*', (_request, payload, done) => { done(null, payload) })
const handler = (request: FastifyRequest, reply: FastifyReply): void => {
  reply.hijack()
  relay.send(request.raw, '/mcp' + request.url.slice(PREFIX.length), reply.raw)
}
// POST for the load, GET …/sse for the SSE figures.
app.route({ method: ['GET', 'POST'], url: PREFIX, handler })
app.route({ method: ['GET', 'POST'], url: `${PREFIX}/*`, handler })
await app.listen({ port: Number(opts.port ?? 0), host: '127.0.0.1' })
const addr = app.server.address()
announceReady(typeof addr === 'object' && addr !== null ? addr.port : 0)
exitWithParent(async () => {
  await app.close()
  await relay.close()
})
