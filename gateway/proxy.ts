// The proxied MCP routes, an encapsulated plugin: its catch-all content-type parser touches nothing
// else. Every body stays an unread stream for the upstream hop (upstream.ts) to send on; the
// preHandler authorizes (authorize.ts) and the handler hands the request to the hop.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { authorizationHook } from './authorize.ts'
import type { ServerRegistry } from './registry.ts'
import { requestLimitHook, type Limiter } from './limits.ts'
import type { SessionBindings } from './sessions.ts'
import type { ToolRules } from './tool-rules.ts'
import type { Upstream } from './upstream.ts'

export interface ProxyOptions {
  registry: ServerRegistry
  sessions: SessionBindings
  upstream: Upstream
  toolRules: ToolRules
  limiter: Limiter
}

export const MCP_ROUTES = ['/mcp-connect/:serverId', '/mcp-connect/:serverId/*'] as const

export const proxyRoutes: FastifyPluginAsync<ProxyOptions> = async function proxyRoutes (app, opts) {
  const { registry, sessions, upstream, toolRules, limiter } = opts

  app.removeAllContentTypeParsers()
  const rawBody = (_request: FastifyRequest, payload: unknown, done: (err: null, body: unknown) => void): void => { done(null, payload) }
  app.addContentTypeParser('*', rawBody)
  // The same, named: Fastify caches its parser lookup by Content-Type only for named types, and
  // would parse the header of every JSON request (what MCP clients send) to reach the catch-all.
  app.addContentTypeParser('application/json', rawBody)

  // Authorization, then the rate limits (a refused request spends none of the allowance).
  const preHandler = [authorizationHook(registry, sessions, toolRules), requestLimitHook(limiter)]
  const handler = function proxy (request: FastifyRequest, reply: FastifyReply): FastifyReply {
    return upstream.forward(request, reply)
  }
  for (const url of MCP_ROUTES) {
    app.route({ method: ['GET', 'POST', 'DELETE'], url, preHandler, handler })
  }
}
