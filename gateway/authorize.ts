// Authorization (preHandler): the server id from the route param, strictly checked, and the raw
// URL checked too so encoded tricks (`%2e%2e`, `%2f`, `%5c`, `%00`, `//`, full-width dots…) are
// refused before anything is proxied; then registry lookup, key scope ∩ the owner's current access.
import type { preHandlerHookHandler } from 'fastify'
import { scopeIncludes, userCanReach } from '../core/access.ts'
import { errors } from '../core/errors.ts'
import { isServerId, SERVER_ID_PATTERN, type RegisteredServer, type ServerRegistry } from './registry.ts'

const PREFIX = '/mcp-connect/'
/**
 * RFC 3986 pchar without percent-encoding: MCP endpoint paths need nothing else, and refusing
 * every `%` closes the whole family of encoded separators, dots and NULs at once.
 */
const SEGMENT = /^[A-Za-z0-9._~!$&'()*+,;=:@-]+$/

export type RawPathVerdict = { ok: true, id: string, rest: string | null } | { ok: false, reason: 'id' | 'path' }

/** Checks the undecoded request path: `/mcp-connect/<id>` or `/mcp-connect/<id>/<rest>`. */
export function checkRawPath (rawUrl: string): RawPathVerdict {
  const q = rawUrl.indexOf('?')
  const path = q < 0 ? rawUrl : rawUrl.slice(0, q)
  if (!path.startsWith(PREFIX)) return { ok: false, reason: 'id' }
  const after = path.slice(PREFIX.length)
  const slash = after.indexOf('/')
  const id = slash < 0 ? after : after.slice(0, slash)
  if (!SERVER_ID_PATTERN.test(id)) return { ok: false, reason: 'id' }
  if (slash < 0) return { ok: true, id, rest: null }
  const rest = after.slice(slash + 1)
  const segments = rest.split('/')
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i] as string
    // An empty last segment is a trailing slash; empty elsewhere is `//`.
    if (s === '' && i === segments.length - 1) continue
    if (s === '' || s === '.' || s === '..' || !SEGMENT.test(s)) return { ok: false, reason: 'path' }
  }
  return { ok: true, id, rest }
}

export function authorizationHook (registry: ServerRegistry): preHandlerHookHandler {
  return function authorize (request, _reply, done) {
    const params = request.params as { serverId?: unknown }
    const raw = checkRawPath(request.raw.url ?? '')
    if (!raw.ok) {
      done(raw.reason === 'id' ? new errors.ServerIdInvalid() : new errors.PathInvalid())
      return
    }
    // The route param decides; the raw check above must agree with it exactly.
    if (!isServerId(params.serverId) || params.serverId !== raw.id) {
      done(new errors.ServerIdInvalid())
      return
    }
    const id = params.serverId
    const server = registry.get(id)
    if (server === undefined) {
      done(new errors.ServerNotFound(id))
      return
    }
    const { principal } = request
    if (!scopeIncludes(principal.scope, id)) {
      done(new errors.KeyOutOfScope(id))
      return
    }
    // The owner's *current* access: role, groups and disabled come from the invalidatable cache.
    if (!userCanReach(server.config.access, principal.user)) {
      done(new errors.AccessDenied(id))
      return
    }
    request.mcpServer = server
    done()
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the authorization hook on proxied routes. */
    mcpServer: RegisteredServer
  }
}
