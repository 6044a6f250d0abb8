// How the gateway answers an error: a JSON-RPC envelope on MCP routes (MCP clients parse those),
// `{statusCode, code, error, message}` elsewhere, and the RFC 6750 WWW-Authenticate challenge.
// Never `resource_metadata`: we do not run OAuth, and advertising it sends clients into a failing
// OAuth dance against the wrong party.
import { STATUS_CODES } from 'node:http'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { errors, StoreUnavailableError } from '../core/errors.ts'
import { keyWasSent } from './auth.ts'

export const MCP_ROUTE_PREFIX = '/mcp-connect'

/** JSON-RPC "server error" range (-32000..-32099); `data.code` carries the stable MCPGATE_* code. */
export const JSONRPC_GATEWAY_ERROR = -32000

const SCOPE_CODES = new Set(['MCPGATE_KEY_OUT_OF_SCOPE', 'MCPGATE_ACCESS_DENIED'])

export function isMcpRoute (url: string): boolean {
  return url === MCP_ROUTE_PREFIX || url.startsWith(MCP_ROUTE_PREFIX + '/') || url.startsWith(MCP_ROUTE_PREFIX + '?')
}

/** Anything that looks like a key is masked before a URL is logged or echoed. */
export function redactKeys (text: string): string {
  return text.replace(/ok1-[A-Za-z0-9-]*/gi, 'ok1-[redacted]')
}

interface WireError {
  statusCode: number
  code: string
  message: string
}

/**
 * Our errors pass as they are; a store that cannot be reached is our 503 (as on the auth path);
 * framework 4xx keep their status; anything else is a 500 with no detail.
 */
function toWire (error: FastifyError): WireError {
  if (error instanceof StoreUnavailableError) {
    const down = new errors.StoreUnavailable()
    return { statusCode: down.statusCode, code: down.code, message: down.message }
  }
  const statusCode = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500
  if (typeof error.code === 'string' && error.code.startsWith('MCPGATE_')) {
    return { statusCode, code: error.code, message: error.message }
  }
  if (statusCode < 500) return { statusCode, code: new errors.BadRequest('').code, message: redactKeys(error.message) }
  const internal = new errors.Internal()
  return { statusCode: 500, code: internal.code, message: internal.message }
}

export function sendError (error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const wire = toWire(error)
  if (wire.statusCode >= 500 && wire.code === 'MCPGATE_INTERNAL') request.log.error({ err: error }, 'unexpected error')
  // Debug, not info: the access line (gateway/access-log.ts) already records every refusal with
  // its status, code, outcome and claimed keyId; a second info line per refusal doubled the log
  // work of a bad-key flood (one line per request, as for accepted requests).
  else request.log.debug({ code: wire.code, statusCode: wire.statusCode }, 'request refused')

  if (wire.statusCode === 401) {
    reply.header('www-authenticate', keyWasSent(request.headers)
      ? 'Bearer realm="mcpgate", error="invalid_token"'
      : 'Bearer realm="mcpgate"')
  } else if (SCOPE_CODES.has(wire.code)) {
    reply.header('www-authenticate', 'Bearer realm="mcpgate", error="insufficient_scope"')
  }

  const body = isMcpRoute(request.url)
    ? { jsonrpc: '2.0', id: null, error: { code: JSONRPC_GATEWAY_ERROR, message: wire.message, data: { code: wire.code } } }
    : { statusCode: wire.statusCode, code: wire.code, error: STATUS_CODES[wire.statusCode] ?? 'Error', message: wire.message }
  return reply.code(wire.statusCode).type('application/json; charset=utf-8').send(body)
}

/** Fast JSON 404 for everything unrouted, `/.well-known/oauth-*` included (no auth, no I/O). */
export function sendNotFound (request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const path = redactKeys(request.url.split('?', 1)[0] ?? '').slice(0, 200)
  return sendError(new errors.RouteNotFound(request.method, path), request, reply)
}
