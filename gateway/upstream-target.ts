// Where a request under /mcp-connect/<id> goes, read once from the undecoded request URL: the
// server id (strictly checked, and it must agree with the router's param), the sub-path (every
// encoded trick — `%2e%2e`, `%2f`, `%5c`, `%00`, `//`, full-width dots — refused), and the query
// merged with the server's configured one, minus anything key-shaped.
import { containsKey } from '../core/key-format.ts'
import { SERVER_ID_PATTERN, type RegisteredServer } from './registry.ts'
import type { UpstreamTarget } from './request-record.ts'

const PREFIX = '/mcp-connect/'
/**
 * RFC 3986 pchar without percent-encoding: MCP endpoint paths need nothing else, and refusing
 * every `%` closes the whole family of encoded separators, dots and NULs at once.
 */
const SEGMENT = /^[A-Za-z0-9._~!$&'()*+,;=:@-]+$/

export type RawPath =
  | { ok: true, id: string, rest: string | null, query: string }
  | { ok: false, reason: 'id' | 'path' }

/** Checks the undecoded request URL: `/mcp-connect/<id>[/<rest>][?query]`. */
export function checkRawPath (rawUrl: string): RawPath {
  const q = rawUrl.indexOf('?')
  const path = q < 0 ? rawUrl : rawUrl.slice(0, q)
  const query = q < 0 ? '' : rawUrl.slice(q + 1)
  if (!path.startsWith(PREFIX)) return { ok: false, reason: 'id' }
  const after = path.slice(PREFIX.length)
  const slash = after.indexOf('/')
  const id = slash < 0 ? after : after.slice(0, slash)
  if (!SERVER_ID_PATTERN.test(id)) return { ok: false, reason: 'id' }
  if (slash < 0) return { ok: true, id, rest: null, query }
  const rest = after.slice(slash + 1)
  const segments = rest.split('/')
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i] as string
    // An empty last segment is a trailing slash; empty elsewhere is `//`.
    if (s === '' && i === segments.length - 1) continue
    if (s === '' || s === '.' || s === '..' || !SEGMENT.test(s)) return { ok: false, reason: 'path' }
  }
  return { ok: true, id, rest, query }
}

/**
 * A key put in the query string is a client's mistake; the upstream must still never see it,
 * spelled plainly or percent-encoded (`ok1%2D…`, `%6F%6B%31%2D…`): that name=value pair goes.
 */
function withoutKeys (query: string): string {
  if (!containsKey(query)) return query
  return query.split('&').filter(pair => !containsKey(pair)).join('&')
}

function mergeQuery (configured: string, client: string): string {
  const clean = withoutKeys(client)
  if (configured === '') return clean
  if (clean === '') return configured
  return `${configured}&${clean}`
}

/**
 * `/mcp-connect/<id>` → the configured url exactly; `/mcp-connect/<id>/<rest>` → rest in the
 * url's directory, never outside it. null when the sub-path would leave the directory.
 */
export function upstreamTarget (server: RegisteredServer, rest: string | null, clientQuery: string): UpstreamTarget | null {
  if (rest === null) return pathWithQuery(server.url.pathname, server.query, clientQuery, false)
  // './' keeps a first segment like `a:b` from being read as a URL scheme.
  const target = new URL(`./${rest}`, server.directory)
  // checkRawPath already refused dot segments and encodings; this is the belt to those braces.
  if (target.origin !== server.directory.origin || !target.pathname.startsWith(server.directory.pathname)) return null
  // The configured query (e.g. a tenant) belongs to the server, so it applies to sub-paths too.
  return pathWithQuery(target.pathname, server.query, clientQuery, true)
}

function pathWithQuery (pathname: string, configured: string, client: string, subPath: boolean): UpstreamTarget {
  const query = client === '' ? configured : mergeQuery(configured, client)
  return { path: query === '' ? pathname : `${pathname}?${query}`, subPath }
}
