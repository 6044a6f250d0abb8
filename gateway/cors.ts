// Browser access: the Origin allowlist (a present, unlisted Origin is refused — DNS rebinding
// protection, MCP 2025-11-25 transport security) and CORS, preflights answered by the gateway.
import type { FastifyReply, FastifyRequest, onRequestHookHandler, RouteHandlerMethod } from 'fastify'
import { errors } from '../core/errors.ts'

const ALLOWED_METHODS = 'GET, POST, DELETE, OPTIONS'
const ALLOWED_HEADERS = 'Authorization, X-API-Key, Content-Type, Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID'
const EXPOSED_HEADERS = 'Mcp-Session-Id, WWW-Authenticate'
const MAX_AGE_S = '600'

export class OriginPolicy {
  #any = false
  #origins = new Set<string>()

  constructor (allowedOrigins: readonly string[]) {
    this.update(allowedOrigins)
  }

  /** Config reload. */
  update (allowedOrigins: readonly string[]): void {
    this.#any = allowedOrigins.includes('*')
    // Compare serialized origins (`https://a.example` — no path, default port dropped).
    this.#origins = new Set(allowedOrigins.filter(o => o !== '*').map(o => new URL(o).origin))
  }

  allows (origin: string): boolean {
    return this.#any || this.#origins.has(origin)
  }
}

function originOf (request: FastifyRequest): string | undefined {
  const o = request.headers.origin
  return typeof o === 'string' ? o : undefined
}

/** Runs first on every request: refuse foreign origins, decorate allowed ones with CORS headers. */
export function originHook (policy: OriginPolicy): onRequestHookHandler {
  return function checkOrigin (request, reply, done) {
    const origin = originOf(request)
    if (origin === undefined) {
      done()
      return
    }
    if (!policy.allows(origin)) {
      done(new errors.OriginForbidden(origin.slice(0, 200)))
      return
    }
    reply.header('access-control-allow-origin', origin)
    reply.header('access-control-expose-headers', EXPOSED_HEADERS)
    reply.header('vary', 'Origin')
    done()
  }
}

/** Preflight: no credentials are sent on it, so it is answered here without authentication. */
export const preflight: RouteHandlerMethod = function preflight (_request: FastifyRequest, reply: FastifyReply) {
  reply.header('access-control-allow-methods', ALLOWED_METHODS)
  reply.header('access-control-allow-headers', ALLOWED_HEADERS)
  reply.header('access-control-max-age', MAX_AGE_S)
  reply.header('allow', ALLOWED_METHODS)
  reply.code(204).send()
}
