// Serves the web console (console/dist, built by `vite build console`) on the admin API's port,
// under a strict Content-Security-Policy, plus /console-config.json that tells it where to sign in.
import { existsSync } from 'node:fs'
import { join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyCompress from '@fastify/compress'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { Config } from '../config/schema.ts'

export interface ConsoleConfigBody {
  oidc: { issuer: string, clientId: string, scopes: string[], audience: string } | null
  /** Base URL MCP clients use; printed in the snippets shown with a new key. */
  gatewayUrl: string
}

export interface ConsoleOptions {
  /** The built console; default console/dist next to this file's folder. */
  root?: string
}

/**
 * console/dist at the repository root, from this module's URL: admin-api/console.ts run from the
 * sources, or dist/admin-api/console.js once compiled (`npm run build`), one level deeper.
 */
export function consoleRootFor (moduleUrl: string): string {
  let root = new URL('..', moduleUrl)
  if (root.pathname.endsWith('/dist/')) root = new URL('..', root)
  return fileURLToPath(new URL('console/dist/', root))
}

export const DEFAULT_CONSOLE_ROOT = consoleRootFor(import.meta.url)

// No standard scope asks for groups; IdPs put the groups claim in the ID token by their own
// configuration (a groups scope where one exists must be mapped there by the IdP admin).
const SCOPES = ['openid', 'profile', 'email']
const DISCOVERY_RETRY_MS = 30_000

/** What the console needs to know; public by nature (no secrets: a public client has none). */
export function consoleConfig (config: Readonly<Config>): ConsoleConfigBody {
  const oidc = config.admin.oidc
  const host = config.gateway.host === '0.0.0.0' || config.gateway.host === '::' ? '127.0.0.1' : config.gateway.host
  const gatewayUrl = config.gateway.publicUrl ?? `http://${host.includes(':') ? `[${host}]` : host}:${config.gateway.port}`
  return {
    oidc: oidc === undefined || oidc.clientId === undefined
      ? null
      : { issuer: oidc.issuer, clientId: oidc.clientId, scopes: SCOPES, audience: oidc.audience },
    gatewayUrl: gatewayUrl.replace(/\/+$/, '')
  }
}

function origin (url: string): string | null {
  try {
    return new URL(url).origin
  } catch {
    return null
  }
}

/**
 * Only files from this origin run or load. fetch() may also reach the identity provider: the
 * console reads its discovery document and swaps the authorization code at its token endpoint.
 */
export function contentSecurityPolicy (idpOrigins: readonly string[]): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "font-src 'self'",
    ['connect-src', "'self'", ...idpOrigins].join(' '),
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'"
  ].join('; ')
}

/**
 * The IdP origins the console must fetch from: the issuer's, and the token endpoint's when it
 * lives elsewhere (Google: accounts.google.com vs oauth2.googleapis.com). Discovery is read on
 * first use and kept once it succeeds; until then (IdP down) the issuer's origin alone is allowed.
 */
function idpOriginsResolver (config: Readonly<Config>): () => Promise<string[]> {
  const oidc = config.admin.oidc
  const issuer = oidc === undefined ? null : origin(oidc.issuer)
  if (oidc === undefined || issuer === null) return async () => []
  let known: string[] | null = null
  let pending: Promise<string[]> | null = null
  let failedAt = Number.NEGATIVE_INFINITY
  return async () => {
    if (known !== null) return known
    // While the IdP is down, do not hold every page load for the discovery timeout.
    if (Date.now() - failedAt < DISCOVERY_RETRY_MS) return [issuer]
    pending ??= (async () => {
      try {
        const res = await fetch(`${oidc.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(3000) })
        if (!res.ok) throw new Error(`discovery answered ${res.status}`)
        const doc = await res.json() as { token_endpoint?: unknown }
        const token = typeof doc.token_endpoint === 'string' ? origin(doc.token_endpoint) : null
        known = token === null || token === issuer ? [issuer] : [issuer, token]
        return known
      } catch {
        failedAt = Date.now()
        return [issuer]
      } finally {
        pending = null
      }
    })()
    return await pending
  }
}

export async function registerConsole (app: FastifyInstance, config: Readonly<Config>, options: ConsoleOptions = {}): Promise<void> {
  const root = options.root ?? DEFAULT_CONSOLE_ROOT
  const idpOrigins = idpOriginsResolver(config)
  const body = consoleConfig(config)

  const secure = async (reply: FastifyReply) => {
    reply.header('content-security-policy', contentSecurityPolicy(await idpOrigins()))
    reply.header('x-content-type-options', 'nosniff')
    reply.header('x-frame-options', 'DENY')
    // The OIDC redirect carries a code in the URL: never hand it to another site as a Referer.
    reply.header('referrer-policy', 'no-referrer')
    reply.header('cross-origin-opener-policy', 'same-origin')
  }

  // Encapsulated: the headers hook and the static wildcard route touch nothing of the API.
  await app.register(async scope => {
    scope.addHook('onSend', async (_request, reply, payload) => {
      await secure(reply)
      return payload
    })

    scope.get('/console-config.json', { schema: { hide: true } }, async (_request, reply) => {
      reply.header('cache-control', 'no-store')
      return body
    })

    if (!existsSync(join(root, 'index.html'))) {
      scope.log.warn({ root }, 'web console is not built (run `npm run build`); serving a placeholder at /')
      scope.get('/', { schema: { hide: true } }, async (_request, reply) => {
        return reply.code(503).type('text/plain; charset=utf-8')
          .send('The mcpgate web console is not built. Run `npm run build`, then restart. The admin API is at /api, its documentation at /docs.\n')
      })
      return
    }

    // Compressed as the browser asks (brotli, then gzip): the script bundle and the stylesheet
    // shrink to about a third, at brotli quality 4 (the plugin's: a few ms per file, once per
    // browser, as hashed assets are cached for good). Registered in this scope only, before the
    // file route it hooks: the API's replies, and the gateway (another app), are left alone.
    // Ranges (206) go out uncompressed, as they must: Content-Range counts the file's bytes.
    await scope.register(fastifyCompress, { encodings: ['br', 'gzip'] })

    await scope.register(fastifyStatic, {
      root,
      prefix: '/',
      index: ['index.html'],
      // Another @fastify/static (the API docs UI) may decorate the reply already.
      decorateReply: false,
      // Dotfiles, directory listings and the sourcemaps are never served.
      dotfiles: 'deny',
      list: false,
      // Our own Cache-Control (below) instead of send's `max-age=0`.
      cacheControl: false,
      setHeaders: (reply, filePath) => {
        // Vite names assets by content hash: cache them forever; always revalidate the page.
        const immutable = relative(root, filePath).startsWith(`assets${sep}`)
        reply.header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
        // Every answer for a file depends on Accept-Encoding, the uncompressed one too (RFC 9110
        // §12.5.5): a shared cache must not hand a copy made for one client to every other.
        // Its ETag (send's weak one, of the file) stands for every coding: they are one content.
        reply.header('vary', 'accept-encoding')
      }
    })
  })
}
