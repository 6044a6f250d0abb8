// The live catalog of an MCP server for the key form's picker (GET /api/mcp-servers/:id/catalog):
// the admin API connects to the upstream as a real MCP client (the SDK's), with the server's
// configured headers, lists its tools, prompts, resources and resource templates page by page,
// and closes. One listing per server is kept for `cacheMs` and shared by every caller; what a
// caller sees of it is filtered afterwards by their own permissions (filterCatalog). Failures are
// not kept: the next request tries again.
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { SseError, SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js'
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'
import { McpError } from '@modelcontextprotocol/sdk/types.js'
import type { ServerConfig } from '../config/schema.ts'
import { systemClock, type Clock } from '../core/clock.ts'
import { errors } from '../core/errors.ts'
import { allows, effectiveRule, type ScopeRule } from '../core/tool-scope.ts'
import type { McpServerCatalogView } from './schemas.ts'

/** Pages read per list, and items kept per list: a server that pages forever cannot hold the request. */
export const CATALOG_MAX_PAGES = 100
export const CATALOG_MAX_ITEMS = 5000
/** Longer descriptions are cut: the picker shows a line, and some servers ship pages of prose. */
export const CATALOG_DESCRIPTION_MAX = 1000

export interface CatalogOptions {
  /** How long a listing is kept (config admin.catalog.cacheMs); 0 lists on every request. */
  cacheMs: number
  /** Connect and list within this (config admin.catalog.timeoutMs), else CatalogUnavailable. */
  timeoutMs: number
  clock?: Clock
}

interface Entry {
  /** Resolves to the listing; rejects with CatalogUnavailable. */
  readonly listing: Promise<McpServerCatalogView>
  /** When the listing stops being served: +Infinity while it is in flight. */
  expiresAt: number
}

export type CatalogCache = ReturnType<typeof createCatalogCache>

export function createCatalogCache ({ cacheMs, timeoutMs, clock = systemClock }: CatalogOptions) {
  // Keyed by the server's config object: a reload replaces it, so a changed url or headers never
  // serve an old listing, and a removed server's entry goes with its config.
  const entries = new WeakMap<ServerConfig, Entry>()

  /** The server's listing, from the cache or the upstream; concurrent callers share one listing. */
  function get (server: ServerConfig): Promise<McpServerCatalogView> {
    const now = clock.now()
    const cached = entries.get(server)
    if (cached !== undefined && now < cached.expiresAt) return cached.listing
    const entry: Entry = { listing: listUpstream(server, timeoutMs), expiresAt: Number.POSITIVE_INFINITY }
    entries.set(server, entry)
    entry.listing.then(() => {
      entry.expiresAt = clock.now() + cacheMs
    }, () => {
      if (entries.get(server) === entry) entries.delete(server)
    })
    return entry.listing
  }

  return { get }
}

/** What `rule` (the caller's own permissions) allows of a listing; the listing itself is shared and untouched. */
export function filterCatalog (catalog: McpServerCatalogView, rule: ScopeRule | undefined): McpServerCatalogView {
  const compiled = effectiveRule(undefined, rule)
  if (compiled === null) return catalog
  return {
    tools: catalog.tools.filter(t => allows(compiled, 'tools', t.name)),
    prompts: catalog.prompts.filter(p => allows(compiled, 'prompts', p.name)),
    resources: catalog.resources.filter(r => allows(compiled, 'resources', r.uri)),
    // As the gateway does: a template is matched by its uriTemplate.
    resourceTemplates: catalog.resourceTemplates.filter(r => allows(compiled, 'resources', r.uriTemplate)),
    truncated: catalog.truncated
  }
}

/** A server whose url path ends in /sse speaks the legacy HTTP+SSE transport (config servers[].url). */
export function isLegacySse (url: URL): boolean {
  return url.pathname.endsWith('/sse')
}

async function listUpstream (server: ServerConfig, timeoutMs: number): Promise<McpServerCatalogView> {
  const url = new URL(server.url)
  const requestInit: RequestInit = { headers: { ...server.headers } }
  const transport: Transport = isLegacySse(url)
    ? new SSEClientTransport(url, { requestInit })
    : new StreamableHTTPClientTransport(url, { requestInit })
  const client = new Client({ name: 'mcpgate-admin-catalog', version: '1.0.0' }, { capabilities: {} })
  const deadline = Date.now() + timeoutMs
  let timer: NodeJS.Timeout | undefined
  let timedOut = false
  // The SDK's request timeouts do not cover a legacy stream that never sends its endpoint event:
  // one deadline over everything; closing the client then fails whatever is still pending.
  const overtime = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      timedOut = true
      reject(new errors.CatalogUnavailable(server.id, `no answer within ${timeoutMs} ms`))
    }, timeoutMs)
  })
  const work = (async () => {
    const options = () => ({ timeout: Math.max(1, deadline - Date.now()) })
    await client.connect(transport, options())
    return await listEverything(client, options)
  })()
  // Settles after the deadline too (the closed transport fails it): nobody waits for it then.
  work.catch(() => {})
  try {
    return await Promise.race([work, overtime])
  } catch (err) {
    if (err instanceof errors.CatalogUnavailable) throw err
    const failure = new errors.CatalogUnavailable(server.id, reasonOf(err))
    failure.cause = err
    throw failure
  } finally {
    clearTimeout(timer)
    await closeQuietly(client, transport, timedOut)
  }
}

type Options = () => { timeout: number }

async function listEverything (client: Client, options: Options): Promise<McpServerCatalogView> {
  const caps = client.getServerCapabilities() ?? {}
  let truncated = false
  // Every page, following nextCursor, within the bounds; a cursor seen before ends the list.
  async function pages<T> (list: (cursor: string | undefined) => Promise<{ items: T[], nextCursor?: string | undefined }>): Promise<T[]> {
    const out: T[] = []
    const seen = new Set<string>()
    let cursor: string | undefined
    for (let page = 0; page < CATALOG_MAX_PAGES; page++) {
      const result = await list(cursor)
      out.push(...result.items)
      if (out.length > CATALOG_MAX_ITEMS) {
        truncated = true
        return out.slice(0, CATALOG_MAX_ITEMS)
      }
      cursor = result.nextCursor
      if (cursor === undefined) return out
      if (seen.has(cursor)) break
      seen.add(cursor)
    }
    truncated = true
    return out
  }
  // Sequential: one upstream session, and no server is asked four things at once by a form.
  const tools = caps.tools === undefined
    ? []
    : await pages(async cursor => {
      const r = await client.listTools(cursor === undefined ? {} : { cursor }, options())
      return { items: r.tools.map(t => item(t.name, t.title ?? t.annotations?.title, t.description)), nextCursor: r.nextCursor }
    })
  const prompts = caps.prompts === undefined
    ? []
    : await pages(async cursor => {
      const r = await client.listPrompts(cursor === undefined ? {} : { cursor }, options())
      return { items: r.prompts.map(p => item(p.name, p.title, p.description)), nextCursor: r.nextCursor }
    })
  const resources = caps.resources === undefined
    ? []
    : await pages(async cursor => {
      const r = await client.listResources(cursor === undefined ? {} : { cursor }, options())
      return { items: r.resources.map(x => ({ uri: x.uri, ...named(x.name, x.title, x.description) })), nextCursor: r.nextCursor }
    })
  const resourceTemplates = caps.resources === undefined
    ? []
    : await pages(async cursor => {
      const r = await client.listResourceTemplates(cursor === undefined ? {} : { cursor }, options())
      return { items: r.resourceTemplates.map(x => ({ uriTemplate: x.uriTemplate, ...named(x.name, x.title, x.description) })), nextCursor: r.nextCursor }
    })
  return { tools, prompts, resources, resourceTemplates, truncated }
}

function cut (text: string): string {
  return text.length <= CATALOG_DESCRIPTION_MAX ? text : `${text.slice(0, CATALOG_DESCRIPTION_MAX - 1)}…`
}

function named (name: string | undefined, title: string | undefined, description: string | undefined) {
  return {
    ...(name === undefined || name === '' ? {} : { name }),
    ...(title === undefined || title === '' ? {} : { title }),
    ...(description === undefined || description === '' ? {} : { description: cut(description) })
  }
}

function item (name: string, title: string | undefined, description: string | undefined) {
  return { name, ...named(undefined, title, description) }
}

/**
 * Why a listing failed, in words that carry nothing from the upstream's answer (the error's
 * cause keeps the details for the log): its HTTP status, a connection failure, or a bad answer.
 */
function reasonOf (err: unknown): string {
  if (err instanceof McpError) return `it answered with MCP error ${err.code}`
  if ((err instanceof StreamableHTTPError || err instanceof SseError) && typeof err.code === 'number' && err.code >= 400 && err.code < 600) {
    return `it answered HTTP ${err.code}`
  }
  const cause = (err as { cause?: { code?: unknown } } | null)?.cause?.code
  if (typeof cause === 'string' && /^E[A-Z_]+$/.test(cause)) return `it could not be reached (${cause})`
  if (err instanceof TypeError || err instanceof SseError) return 'it could not be reached'
  return 'its answer was not a valid MCP response'
}

/** Ends the upstream session (Streamable HTTP: DELETE) and the transport; never throws, never waits long. */
async function closeQuietly (client: Client, transport: Transport, timedOut: boolean): Promise<void> {
  if (!timedOut && transport instanceof StreamableHTTPClientTransport && transport.sessionId !== undefined) {
    await Promise.race([
      transport.terminateSession().catch(() => {}),
      new Promise<void>(resolve => setTimeout(resolve, 1000).unref())
    ])
  }
  await client.close().catch(() => {})
}
