// Authorization (preHandler): the server id from the route param, strictly checked against the
// undecoded URL (upstream-target.ts), the registry, the key's scope ∩ its owner's *current*
// access, and the MCP session the request names (sessions.ts). A key or owner that may not reach
// a server gets the answer an unknown server gets (404): no existence oracle, and no 403 that
// MCP clients would take for an OAuth challenge. Only an OAuth access token whose grant does not
// reach the endpoint it was issued for gets that challenge (403 insufficient_scope).
import type { FastifyReply, FastifyRequest, preHandlerHookHandler } from 'fastify'
import { scopeIncludes, userCanReach } from '../core/access.ts'
import { errors } from '../core/errors.ts'
import { isServerId, type ServerRegistry } from './registry.ts'
import { SessionBindings, sessionOf, type SessionVerdict } from './sessions.ts'
import type { ToolRules } from './tool-rules.ts'
import { checkRawPath, upstreamTarget } from './upstream-target.ts'

const STORE_RETRY_AFTER_S = '2'

export function authorizationHook (registry: ServerRegistry, sessions: SessionBindings, toolRules: ToolRules): preHandlerHookHandler {
  function sessionAnswer (request: FastifyRequest, reply: FastifyReply, verdict: SessionVerdict, sessionId: string): Error | undefined {
    if (verdict === 'ok') {
      request.gate.inSession(sessionId)
      return undefined
    }
    if (verdict === 'unavailable') {
      reply.header('retry-after', STORE_RETRY_AFTER_S)
      return new errors.StoreUnavailable()
    }
    SessionBindings.refusedLine(request, verdict)
    return new errors.SessionNotFound()
  }

  return function authorize (request, reply, done) {
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
    const gate = request.gate
    const principal = gate.principal
    if (server === undefined || principal === null) {
      done(new errors.ServerNotFound(id))
      return
    }
    if (!scopeIncludes(principal.scope, id)) {
      gate.deny('out_of_scope')
      // An access token is bound to this endpoint (its audience): the server exists for its
      // holder, and the answer that helps is "authorize again and include it" (MCP's scope
      // challenge, 403 insufficient_scope). A key gets what an unknown server gets.
      done(gate.tokenSent ? new errors.InsufficientScope(id) : new errors.ServerNotFound(id))
      return
    }
    // The owner's *current* access: role, groups and disabled come from the invalidatable cache.
    if (!userCanReach(server.config.access, principal.user)) {
      gate.deny('access_denied')
      done(new errors.ServerNotFound(id))
      return
    }
    const target = upstreamTarget(server, raw.rest, raw.query)
    if (target === null) {
      done(new errors.PathInvalid())
      return
    }
    gate.authorized(server, target)
    // Per-tool scopes (key ∩ owner): null, and no cost, for a request that may use everything.
    const rule = toolRules.ruleFor(server, principal)
    if (rule !== null) gate.restrict(rule)
    const sessionId = sessionOf(request.headers, target.subPath, raw.query)
    if (sessionId === null) {
      done()
      return
    }
    const verdict = sessions.check(id, sessionId, principal.keyId)
    if (verdict instanceof Promise) verdict.then(v => { done(sessionAnswer(request, reply, v, sessionId)) }, done)
    else done(sessionAnswer(request, reply, verdict, sessionId))
  }
}
