// Target (b): bare Fastify 5 + @fastify/http-proxy with its defaults — the floor mcpgate's
// authenticating proxy is compared against. Same public path as mcpgate: /mcp-connect/bench.
import Fastify from 'fastify'
import proxy from '@fastify/http-proxy'
import { announceReady, childOptions, exitWithParent } from './child.ts'

const opts = childOptions()
if (opts.upstream === undefined) throw new Error('bare-proxy: --upstream http://127.0.0.1:PORT is required')

const app = Fastify()
await app.register(proxy, {
  upstream: opts.upstream,
  prefix: '/mcp-connect/bench',
  rewritePrefix: '/mcp'
})
await app.listen({ port: Number(opts.port ?? 0), host: '127.0.0.1' })
const addr = app.server.address()
announceReady(typeof addr === 'object' && addr !== null ? addr.port : 0)
exitWithParent(() => app.close())
