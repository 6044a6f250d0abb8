// The proxied MCP routes: an encapsulated plugin (its catch-all content-type parser and reply-from
// touch nothing else) streaming raw bytes both ways through @fastify/reply-from over undici.
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import replyFrom from '@fastify/reply-from'
import type { ConnectionDrain } from '../core/connection-drain.ts'
import { errors } from '../core/errors.ts'
import { authorizationHook } from './authorize.ts'
import type { RegisteredServer, ServerRegistry } from './registry.ts'
import { SseEndpointRewrite } from './sse-endpoint-rewrite.ts'
import { withUpstreamContext, type UpstreamContext, type UpstreamDispatcher } from './upstream-dispatcher.ts'
import { fromUpstreamAuthFailure, fromUpstreamFailure, isUpstreamAuthFailure } from './upstream-errors.ts'
import type { UpstreamExchange } from './upstream-exchange.ts'

/** What reply-from hands onResponse: the dispatcher's UpstreamHead with `body` renamed `stream`. */
interface UpstreamResponse {
  statusCode: number
  headers: IncomingHttpHeaders
  stream: UpstreamExchange
}

export interface ProxyOptions {
  registry: ServerRegistry
  dispatcher: UpstreamDispatcher
  trustProxy: boolean
  /** Path prefix of the public URL (e.g. `/gw` behind a path-routing proxy), '' for none. */
  publicPathPrefix: string
  /** Shutdown ends open SSE streams through it (core/connection-drain.ts). */
  drain?: ConnectionDrain
}

/** Never forwarded: credentials meant for the gateway, hop-by-hop headers, and spoofable identity. */
const DROPPED_REQUEST_HEADERS = new Set([
  'authorization', 'x-api-key', 'cookie', 'proxy-authorization',
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
 * `/mcp-connect/<id>` → the configured url; `/mcp-connect/<id>/<rest>` → rest in the url's
 * directory. The client's query is appended by the handler.
 */
export function upstreamUrl (server: RegisteredServer, rest: string | null): URL {
  if (rest === null) return new URL(server.url.href)
  // './' keeps a first segment like `a:b` from being read as a URL scheme.
  const target = new URL(`./${rest}`, server.directory)
  // checkRawPath already refused dot segments and encodings; this is the belt to those braces.
  if (target.origin !== server.directory.origin || !target.pathname.startsWith(server.directory.pathname)) {
    throw new errors.PathInvalid()
  }
  // The configured query (e.g. a tenant) belongs to the server, so it applies to sub-paths too.
  target.search = server.url.search
  return target
}

/** A client that put its key in the query string made a mistake; the upstream must still never see it. */
const KEY_IN_QUERY = /ok1(-|%2d)/i

function withoutKeys (query: string): string {
  if (!KEY_IN_QUERY.test(query)) return query
  return query.split('&').filter(pair => !KEY_IN_QUERY.test(pair)).join('&')
}

function mergeQuery (configured: string, client: string): string {
  const clean = withoutKeys(client)
  if (configured === '') return clean
  if (clean === '') return configured
  return `${configured}&${clean}`
}

function upstreamRequestHeaders (request: FastifyRequest, server: RegisteredServer, input: IncomingHttpHeaders, trustProxy: boolean): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {}
  // for…in rather than Object.entries: no array of pairs per request (header objects have no
  // enumerable inherited properties).
  for (const name in input) {
    const value = input[name]
    if (value === undefined || DROPPED_REQUEST_HEADERS.has(name) || name.startsWith('x-mcpgate-')) continue
    out[name] = value
  }
  const remote = request.socket.remoteAddress ?? ''
  const chain = input['x-forwarded-for']
  out['x-forwarded-for'] = trustProxy && typeof chain === 'string' && chain !== '' ? `${chain}, ${remote}` : remote
  out['x-forwarded-proto'] = request.protocol
  out['x-forwarded-host'] = request.host
  if (server.config.identityHeaders) {
    out['x-mcpgate-user-id'] = request.principal.userId
    out['x-mcpgate-user-email'] = request.principal.user.email
    out['x-mcpgate-key-id'] = request.principal.keyId
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

/** The reply as reply-from's onResponse gets it (typed for any server, the gateway's is HTTP/1). */
interface ProxyReply { hijack(): unknown, raw: unknown, statusCode: number, getHeaders(): Record<string, unknown> }

/**
 * The client response's headers: the gateway's (request id, CORS) with the upstream's over them,
 * minus the ones the gateway owns. Built here in one object instead of reply-from copying each
 * upstream header onto the reply.
 */
function clientResponseHeaders (rep: ProxyReply, upstream: IncomingHttpHeaders, hasOrigin: boolean): OutgoingHttpHeaders {
  const out = rep.getHeaders() as OutgoingHttpHeaders
  for (const name in upstream) {
    const value = upstream[name]
    if (value === undefined || DROPPED_RESPONSE_HEADERS.has(name) || name.startsWith('access-control-')) continue
    if (typeof value === 'string') out[name] = sanitize(value)
    else out[name] = value.map(sanitize)
  }
  // The gateway's CORS answer depends on Origin (the origin hook set `Vary: Origin`); an upstream
  // Vary replaces that, so it must name Origin too.
  const vary = out.vary
  if (hasOrigin && upstream.vary !== undefined && typeof vary === 'string' && !/(^|,)\s*(origin|\*)\s*(,|$)/i.test(vary)) out.vary = `${vary}, Origin`
  return out
}

/** reply-from's rewriteHeaders: copy nothing onto the reply, onResponse builds the headers. */
const NO_HEADERS: Readonly<IncomingHttpHeaders> = Object.freeze({})

/**
 * Shutdown: ends a proxied SSE response cleanly (its terminating chunk goes out) and stops the
 * upstream request.
 */
function endStream (exchange: UpstreamExchange, res: ServerResponse): () => void {
  return () => {
    exchange.abort()
    if (!res.writableEnded) res.end()
  }
}

/** Takes the response over from Fastify and writes its status and headers; the body follows from the exchange. */
function startResponse (rep: ProxyReply, headers: OutgoingHttpHeaders): ServerResponse {
  rep.hijack()
  const raw = rep.raw as ServerResponse
  raw.writeHead(rep.statusCode, headers)
  return raw
}

function flushHeaders (res: ServerResponse): void {
  // Puts no bytes on the wire once the first write carried them.
  if (!res.destroyed && !res.writableEnded) res.flushHeaders()
}

function isEventStream (contentType: unknown): boolean {
  return typeof contentType === 'string' && contentType.toLowerCase().startsWith('text/event-stream')
}

/** The legacy endpoint URL, if it lies under this server's directory, as a gateway path. */
export function gatewayEndpoint (server: RegisteredServer, requested: URL, data: string, publicPathPrefix: string): string | null {
  let target: URL
  try {
    target = new URL(data.trim(), requested)
  } catch {
    return null
  }
  if (target.origin !== server.url.origin) return null
  const base = `${publicPathPrefix}/mcp-connect/${server.id}`
  if (target.pathname === server.url.pathname) return base + target.search
  if (!target.pathname.startsWith(server.directory.pathname)) return null
  return `${base}/${target.pathname.slice(server.directory.pathname.length)}${target.search}`
}

/**
 * gatewayEndpoint, and a warning when there is none: the event then goes out as the upstream sent
 * it, naming a URL the gateway cannot route (another origin, or outside the server's directory),
 * and the client will fail to post there. The operator's fix is the server's configured URL.
 */
function endpointFor (request: { log: FastifyRequest['log'] }, server: RegisteredServer, requested: URL, data: string, publicPathPrefix: string): string | null {
  const mapped = gatewayEndpoint(server, requested, data, publicPathPrefix)
  if (mapped === null) {
    let where = '(not a URL)'
    try {
      const target = new URL(data.trim(), requested)
      where = target.origin + target.pathname
    } catch {}
    request.log.warn({ serverId: server.id, endpoint: where, directory: server.directory.href },
      'the upstream\'s endpoint event names a URL outside the server\'s directory; passed on unchanged, clients cannot reach it through the gateway')
  }
  return mapped
}

export const proxyRoutes: FastifyPluginAsync<ProxyOptions> = async function proxyRoutes (app, opts) {
  const { registry, dispatcher, trustProxy, publicPathPrefix, drain } = opts

  // Raw bytes: every body, whatever its content type, stays an unread stream for undici to pipe.
  app.removeAllContentTypeParsers()
  const rawBody = (_request: FastifyRequest, payload: unknown, done: (err: null, body: unknown) => void): void => { done(null, payload) }
  app.addContentTypeParser('*', rawBody)
  // The same, named: Fastify caches its parser lookup by Content-Type only for named types, and
  // would parse the header of every JSON request (what MCP clients send) to reach the catch-all.
  app.addContentTypeParser('application/json', rawBody)

  await app.register(replyFrom, {
    undici: dispatcher as unknown as { request: import('undici').Dispatcher['request'] },
    disableRequestLogging: true
    // reply-from's URL cache stays on (100 entries): an upstream URL is parsed once, not per request.
  })

  // One options object for every call: reply-from hands each callback the request (or reply), and
  // the per-request values live in `request.proxyCall`, so no closures are built per request.
  const fromOptions: Parameters<FastifyReply['from']>[1] = {
    queryString: (_search, _url, request) => (request as FastifyRequest).proxyCall.query,
    // Never retry: a POST is not idempotent, and reply-from would otherwise retry GETs on 503.
    retryDelay: () => null,
    rewriteRequestHeaders: (request, headers) => upstreamRequestHeaders(request as FastifyRequest, request.mcpServer, headers as IncomingHttpHeaders, trustProxy),
    rewriteHeaders: () => NO_HEADERS,
    onError: (rep, { error }) => {
      const request = rep.request
      const mapped = fromUpstreamFailure(error)
      // reply-from has logged the cause already; this line names the server and our code.
      if (request.proxyCall.exchange?.aborted === true) request.log.debug({ serverId: request.mcpServer.id }, 'client went away before the upstream answered')
      else request.log.warn({ serverId: request.mcpServer.id, code: mapped.code }, 'upstream request failed')
      rep.send(mapped)
    },
    onResponse: (request, rep, upstream) => {
      const server = request.mcpServer
      const res = upstream as unknown as UpstreamResponse
      const exchange = res.stream
      if (isUpstreamAuthFailure(res.statusCode)) {
        exchange.abort()
        request.log.warn({ serverId: server.id, upstreamStatus: res.statusCode }, 'upstream refused the gateway credentials')
        rep.send(fromUpstreamAuthFailure(res.statusCode))
        return
      }
      exchange.onBodyError = err => { request.log.warn({ serverId: server.id, err }, 'upstream response failed midway; client response cut') }
      const headers = clientResponseHeaders(rep, res.headers, request.headers.origin !== undefined)
      if (!isEventStream(res.headers['content-type'])) {
        exchange.pipeTo(startResponse(rep, headers))
        return
      }
      // SSE: nothing may buffer or transform it, and headers go out now, not with the first event.
      headers['cache-control'] = 'no-cache, no-transform'
      headers['x-accel-buffering'] = 'no'
      // A standalone GET stream may carry the legacy `endpoint` event: rewritten on its way through.
      const rewriting = request.method === 'GET' && res.headers['content-encoding'] === undefined
      if (rewriting) delete headers['content-length']
      const raw = startResponse(rep, headers)
      // The first event usually comes in the same read as the upstream's headers: it then carries
      // the headers out in one write (one packet, one wake-up of the client). A quiet stream gets
      // its headers at the end of this tick all the same.
      setImmediate(flushHeaders, raw)
      const { source, query } = request.proxyCall
      const rewrite = rewriting
        ? new SseEndpointRewrite({ rewrite: data => endpointFor(request, server, new URL(source + (query === '' ? '' : `?${query}`)), data, publicPathPrefix) })
        : undefined
      exchange.pipeTo(raw, rewrite)
      drain?.trackStream(raw, { standalone: request.method === 'GET', end: endStream(exchange, raw) })
    }
  }

  app.decorateRequest('proxyCall', null as never)

  const handler = function proxy (request: FastifyRequest, reply: FastifyReply): FastifyReply {
    const server = request.mcpServer
    const rest = (request.params as { '*'?: string })['*']
    const rawUrl = request.raw.url ?? ''
    const q = rawUrl.indexOf('?')
    const clientQuery = q === -1 ? '' : rawUrl.slice(q + 1)
    let source: string
    let configuredQuery: string
    if (rest === undefined) {
      // `/mcp-connect/<id>`: the configured URL, parsed once at registry time.
      source = server.source
      configuredQuery = server.query
    } else {
      const target = upstreamUrl(server, rest)
      source = target.origin + target.pathname
      configuredQuery = target.search.slice(1)
    }

    const call: ProxyCall = { server, exchange: null, source, query: mergeQuery(configuredQuery, clientQuery) }
    request.proxyCall = call
    // Client gone → abort the upstream request (before or after its response headers).
    reply.raw.on('close', () => { if (!reply.raw.writableFinished) call.exchange?.abort() })
    return withUpstreamContext(call, () => reply.from(source, fromOptions))
  }

  const preHandler = authorizationHook(registry)
  for (const url of ['/mcp-connect/:serverId', '/mcp-connect/:serverId/*']) {
    app.route({ method: ['GET', 'POST', 'DELETE'], url, preHandler, handler })
  }
}

interface ProxyCall extends UpstreamContext {
  /** Upstream origin + path, without query. */
  readonly source: string
  /** Merged configured + client query, without '?'. */
  readonly query: string
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the proxy handler for reply-from's callbacks. */
    proxyCall: ProxyCall
  }
}
