// How the gateway answers an error (mapped once, core/error-wire.ts): a JSON-RPC envelope on MCP
// routes (MCP clients parse those), `{statusCode, code, error, message}` elsewhere, and the
// RFC 6750 WWW-Authenticate challenge. In key-only mode never `resource_metadata`, and no 403 for a
// server a key may not reach: both send MCP clients into an OAuth dance against a gateway that
// takes API keys. So 401s, 404s and every OAuth discovery path carry a hint that says what to send
// instead. In OAuth mode (oauth.enabled) a 401 on an MCP endpoint names the endpoint's protected
// resource metadata (RFC 9728 §5.1), where clients start the OAuth flow, and so does a 403
// insufficient_scope (a token whose grant does not reach its endpoint: authorize again).
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { statusText, toWire } from '../core/error-wire.ts'
import { redactKeys } from '../core/key-format.ts'
import { errors } from '../core/errors.ts'

export const MCP_ROUTE_PREFIX = '/mcp-connect'

/** JSON-RPC "server error" range (-32000..-32099); `data.code` carries the stable MCPGATE_* code. */
export const JSONRPC_GATEWAY_ERROR = -32000

/** Codes answered as the MCP SDK answers them, so clients react as they do to the upstream. */
const JSONRPC_CODES: Readonly<Record<string, number>> = {
  // An unknown session: the client starts a new one (MCP transports, session management).
  MCPGATE_SESSION_NOT_FOUND: -32001,
  MCPGATE_MCP_PARSE_ERROR: -32700,
  MCPGATE_MCP_INVALID_REQUEST: -32600,
  // MCP 2026-07-28: a header that does not mirror the body.
  MCPGATE_MCP_HEADER_MISMATCH: -32020
}

/** The answers a client needs a key hint in: it sent no key, a bad one, or reached nothing. */
const HINTED = new Set([401, 404])

export function isMcpRoute (url: string): boolean {
  return url === MCP_ROUTE_PREFIX || url.startsWith(MCP_ROUTE_PREFIX + '/') || url.startsWith(MCP_ROUTE_PREFIX + '?')
}

/** "This gateway takes API keys…", and where to get one when admin.publicUrl is set. */
export function keyHint (adminPublicUrl: string | undefined): string {
  const where = adminPublicUrl === undefined ? 'ask an administrator for one' : `create one at ${adminPublicUrl}`
  return `This gateway takes API keys, not OAuth: send "Authorization: Bearer ok1-…" or "X-API-Key: ok1-…" (${where}).`
}

export interface ErrorReplies {
  sendError (error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply
  sendNotFound (request: FastifyRequest, reply: FastifyReply): FastifyReply
  /** An OAuth discovery or endpoint path: this gateway runs no OAuth (key-only mode). */
  sendNoOAuth (request: FastifyRequest, reply: FastifyReply): FastifyReply
}

/** OAuth mode: where a 401 on an MCP endpoint sends the client (gateway/oauth.ts). */
export interface OAuthChallenge {
  metadataUrl (request: FastifyRequest, serverId: string): string
}

/** An MCP endpoint's server id as routed (the param), or null elsewhere. */
function routedServerId (request: FastifyRequest): string | null {
  const params = request.params as { serverId?: unknown } | undefined
  return typeof params?.serverId === 'string' && /^[a-z0-9][a-z0-9_-]{0,63}$/.test(params.serverId) ? params.serverId : null
}

export function errorReplies (adminPublicUrl: string | undefined, oauth: OAuthChallenge | null = null): ErrorReplies {
  const hint = oauth === null
    ? keyHint(adminPublicUrl)
    : `Sign in through OAuth (this endpoint's protected resource metadata names the authorization server), or send an API key: "Authorization: Bearer ok1-…" or "X-API-Key: ok1-…" (${adminPublicUrl === undefined ? 'ask an administrator for one' : `create one at ${adminPublicUrl}`}).`

  function sendError (error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
    const wire = toWire(error)
    // The error path writes the record's code; the access line and metrics read it.
    request.gate?.failed(wire.code)
    if (wire.fault !== null) request.log.error({ err: wire.fault }, 'unexpected error')
    // Debug, not info: the access line (gateway/access-log.ts) already records every refusal with
    // its status, code, outcome and claimed keyId; a second info line per refusal doubled the log
    // work of a bad-key flood (one line per request, as for accepted requests).
    else request.log.debug({ code: wire.code, statusCode: wire.statusCode }, 'request refused')

    if (wire.statusCode === 401 || wire.code === 'MCPGATE_INSUFFICIENT_SCOPE') {
      const serverId = oauth === null ? null : routedServerId(request)
      const metadata = oauth === null || serverId === null ? '' : `, resource_metadata="${oauth.metadataUrl(request, serverId)}", scope="mcp"`
      const error = wire.statusCode === 403 ? ', error="insufficient_scope"' : request.gate?.keySent === true ? ', error="invalid_token"' : ''
      reply.header('www-authenticate', `Bearer realm="mcpgate"${error}${metadata}`)
    }
    const hinted = HINTED.has(wire.statusCode)
    if (wire.code === 'MCPGATE_OAUTH_NOT_ENABLED') reply.header('cache-control', 'no-store')
    let body: unknown
    if (isMcpRoute(request.url)) {
      const data = hinted ? { code: wire.code, hint } : { code: wire.code }
      const message = hinted && wire.code !== 'MCPGATE_SESSION_NOT_FOUND' ? `${wire.message}. ${hint}` : wire.message
      body = { jsonrpc: '2.0', id: null, error: { code: JSONRPC_CODES[wire.code] ?? JSONRPC_GATEWAY_ERROR, message, data } }
    } else {
      const message = hinted ? `${wire.message}. ${hint}` : wire.message
      // error_description: an OAuth client that probed here (registration, token) shows it to its
      // user instead of "invalid response" (the MCP SDK reads RFC 6749 error bodies).
      body = hinted
        ? { statusCode: wire.statusCode, code: wire.code, error: statusText(wire.statusCode), message, error_description: message }
        : { statusCode: wire.statusCode, code: wire.code, error: statusText(wire.statusCode), message }
    }
    return reply.code(wire.statusCode).type('application/json; charset=utf-8').send(body)
  }

  /** Fast JSON 404 for everything unrouted (no auth, no I/O). */
  function sendNotFound (request: FastifyRequest, reply: FastifyReply): FastifyReply {
    const path = redactKeys(request.url.split('?', 1)[0] ?? '').slice(0, 200)
    return sendError(new errors.RouteNotFound(request.method, path), request, reply)
  }

  function sendNoOAuth (request: FastifyRequest, reply: FastifyReply): FastifyReply {
    return sendError(new errors.OAuthNotEnabled(), request, reply)
  }

  return { sendError, sendNotFound, sendNoOAuth }
}
