// Which headers cross the gateway, each way. Upstream: never the gateway's credentials, hop-by-hop
// headers or a client's claim to an identity; plus the server's configured headers, X-Forwarded-*
// and (opt-in) the caller's identity. Back to the client: never an authentication challenge (the
// gateway's upstream credential is not the client's business), cookies or CORS of the upstream's.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import type { Principal } from './auth.ts'
import type { RegisteredServer } from './registry.ts'

/** Never forwarded: credentials meant for the gateway, hop-by-hop headers, and spoofable identity. */
const DROPPED_REQUEST_HEADERS = new Set([
  'authorization', 'x-api-key', 'cookie', 'proxy-authorization', 'host',
  'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade',
  'http2-settings', 'expect', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded'
])

/** Never relayed to the client: the gateway owns authentication challenges, CORS and cookies. */
const DROPPED_RESPONSE_HEADERS = new Set([
  'www-authenticate', 'set-cookie', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding',
  'upgrade', 'proxy-authenticate', 'trailer'
])

/** Configured server headers may not override framing. */
const PROTECTED_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection'])

/**
 * Header names a `Connection` header lists are hop-by-hop for that message (RFC 9110 §7.6.1):
 * null when it lists none (nearly always: HTTP/1.1 clients send none or `keep-alive`).
 */
function connectionTokens (value: string | string[] | undefined): Set<string> | null {
  if (value === undefined) return null
  const text = Array.isArray(value) ? value.join(',') : value
  if (text === '' || text.toLowerCase() === 'keep-alive' || text.toLowerCase() === 'close') return null
  const tokens = new Set<string>()
  for (const t of text.split(',')) {
    const name = t.trim().toLowerCase()
    if (name !== '') tokens.add(name)
  }
  return tokens
}

export interface ForwardedFor {
  /** The socket's peer address. */
  remote: string
  /** `https`/`http` as the gateway saw it (after trustProxy). */
  protocol: string
  host: string
  /** Extend the client's X-Forwarded-For chain (only behind a trusted proxy). */
  trustProxy: boolean
}

export function upstreamRequestHeaders (input: IncomingHttpHeaders, server: RegisteredServer, principal: Principal, fwd: ForwardedFor): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {}
  const hop = connectionTokens(input.connection)
  // for…in rather than Object.entries: no array of pairs per request (header objects have no
  // enumerable inherited properties).
  for (const name in input) {
    const value = input[name]
    if (value === undefined || DROPPED_REQUEST_HEADERS.has(name) || name.startsWith('x-mcpgate-')) continue
    if (hop !== null && hop.has(name)) continue
    out[name] = value
  }
  const chain = input['x-forwarded-for']
  out['x-forwarded-for'] = fwd.trustProxy && typeof chain === 'string' && chain !== '' ? `${chain}, ${fwd.remote}` : fwd.remote
  out['x-forwarded-proto'] = fwd.protocol
  out['x-forwarded-host'] = fwd.host
  if (server.config.identityHeaders) {
    out['x-mcpgate-user-id'] = principal.userId
    // A service account may have no email: the header is then absent, never empty.
    if (principal.user.email !== '') out['x-mcpgate-user-email'] = principal.user.email
    out['x-mcpgate-key-id'] = principal.keyId
  }
  for (const name in server.headers) {
    if (!PROTECTED_HEADERS.has(name)) out[name] = server.headers[name]
  }
  return out
}

/** Strip characters invalid in a header value so a broken upstream header cannot crash a reply. */
function sanitize (value: string): string {
  return value.replace(/[^\t\x20-\x7E\x80-\xFF]/g, '')
}

const VARY_NAMES_ORIGIN = /(^|,)\s*(origin|\*)\s*(,|$)/i

/**
 * The client response's headers: the gateway's own (`own`: request id, CORS) with the upstream's
 * over them, minus the ones the gateway owns.
 */
export function clientResponseHeaders (own: OutgoingHttpHeaders, upstream: IncomingHttpHeaders, hasOrigin: boolean): OutgoingHttpHeaders {
  const out = own
  const hop = connectionTokens(upstream.connection)
  for (const name in upstream) {
    const value = upstream[name]
    if (value === undefined || DROPPED_RESPONSE_HEADERS.has(name) || name.startsWith('access-control-')) continue
    if (hop !== null && hop.has(name)) continue
    if (typeof value === 'string') out[name] = sanitize(value)
    else out[name] = value.map(sanitize)
  }
  // The gateway's CORS answer depends on Origin (the origin hook set `Vary: Origin`); an upstream
  // Vary replaces that, so it must name Origin too.
  const vary = out.vary
  if (hasOrigin && upstream.vary !== undefined && typeof vary === 'string' && !VARY_NAMES_ORIGIN.test(vary)) out.vary = `${vary}, Origin`
  return out
}

export function isEventStream (contentType: unknown): boolean {
  return typeof contentType === 'string' && contentType.toLowerCase().startsWith('text/event-stream')
}
