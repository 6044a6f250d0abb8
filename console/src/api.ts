// The admin REST API as the console sees it: its wire types, one fetch wrapper that adds the
// bearer token and turns `{statusCode, code, error, message}` bodies into ApiError.
import type { AdminApiKeyView, ApiKeyView, MeView, Page, UserView } from '../../admin-api/schemas.ts'

// The wire types are the admin API's own (its TypeBox schemas, which also validate and shape its
// replies and generate its OpenAPI document). Type-only: the build erases the import, no server
// code reaches the bundle.
export type { AuditEventView as AuditEvent, CreatedApiKeyView as CreatedApiKey, KeyUsageView as KeyUsage, McpServerCatalogView as McpServerCatalog, McpServerView as McpServer, MeView as Me, Page } from '../../admin-api/schemas.ts'

/**
 * A user. `roleFromGroups`: the admin role comes from an identity provider group
 * (admin.oidc.adminGroups), so demoting them is refused; an admin API without the field means false.
 */
export type User = Omit<UserView, 'roleFromGroups'> & { roleFromGroups?: boolean }

/** A key in a table: your own (`GET /api/api-keys`) or, on the admin pages, with its owner. */
export type ApiKey = ApiKeyView & Partial<Pick<AdminApiKeyView, 'user'>>

/** One rate limit or quota now (core/limits.ts LimitStatus), in a key's usage and in GET /api/me. */
export type LimitStatus = MeView['limits'][number]

export class ApiError extends Error {
  constructor (
    readonly statusCode: number,
    readonly code: string,
    message: string,
    /** The request body field the server blamed, when it names one. */
    readonly field: string | null = null
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

/** Fields of the forms the console sends; used to place server-side errors next to inputs. */
const KNOWN_FIELDS = ['name', 'description', 'expiresAt', 'mcpServerIds', 'scopes', 'limits', 'kind', 'email', 'role', 'groups', 'disabled']

/**
 * Which field a validation error is about. The admin API names it in `message` (Fastify/Ajv
 * style `body/name must …`, `/name …`, or `name: …`) or in an explicit `field`/`validation` entry.
 */
export function blamedField (body: Record<string, unknown>): string | null {
  if (typeof body.field === 'string' && body.field !== '') return body.field.replace(/^\/?(body\/)?/, '').split(/[/.[]/)[0] ?? null
  const validation = body.validation
  if (Array.isArray(validation) && validation.length > 0) {
    const first = validation[0] as { instancePath?: unknown, params?: { missingProperty?: unknown } }
    if (typeof first.params?.missingProperty === 'string') return first.params.missingProperty
    if (typeof first.instancePath === 'string') {
      const f = first.instancePath.split('/').filter(Boolean)[0]
      if (f !== undefined) return f
    }
  }
  const code = typeof body.code === 'string' ? body.code : ''
  if (code === 'MCPGATE_MCP_SERVER_NOT_FOUND') return 'mcpServerIds'
  if (code === 'MCPGATE_EMAIL_TAKEN') return 'email'
  const message = typeof body.message === 'string' ? body.message : ''
  // The admin API's convention: "<field>: <problem>", e.g. "expiresAt: must be in the future".
  const prefixed = /^(?:body\/|\/)?([A-Za-z]+)(?:[./[][^:\s]*)?:\s/.exec(message)
  if (prefixed !== null && KNOWN_FIELDS.includes(prefixed[1] as string)) return prefixed[1] as string
  for (const f of KNOWN_FIELDS) {
    const re = new RegExp(`(^|[\\s/'"\`(.])${f}(\\b|[:'"\`/\\[.])`)
    if (re.test(message)) return f
  }
  return null
}

export class Api {
  constructor (
    /** The bearer token to send; may renew the session first. */
    private readonly token: () => Promise<string | null>,
    /** Called on 401: the session expired or was revoked. */
    private readonly onUnauthorized: (error: ApiError) => void
  ) {}

  /**
   * `withCookies`: send this origin's cookies (the OAuth consent endpoints check the browser's
   * interaction cookie); every other call omits them.
   */
  async request<T> (method: string, path: string, body?: unknown, withCookies = false): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' }
    const token = await this.token()
    if (token !== null) headers.authorization = `Bearer ${token}`
    if (body !== undefined) headers['content-type'] = 'application/json'
    let res: Response
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: withCookies ? 'same-origin' : 'omit', cache: 'no-store' })
    } catch {
      throw new ApiError(0, 'NETWORK', 'The admin API cannot be reached. Check your connection and try again.')
    }
    if (res.status === 204) return undefined as T
    const text = await res.text()
    let data: unknown = null
    try {
      data = text === '' ? null : JSON.parse(text)
    } catch {
      data = null
    }
    if (!res.ok) {
      const b = (data !== null && typeof data === 'object' ? data : {}) as Record<string, unknown>
      const error = new ApiError(
        res.status,
        typeof b.code === 'string' ? b.code : `HTTP_${res.status}`,
        typeof b.message === 'string' && b.message !== '' ? b.message : `${res.status} ${res.statusText}`,
        res.status === 400 || res.status === 409 ? blamedField(b) : null
      )
      if (res.status === 401) this.onUnauthorized(error)
      throw error
    }
    return data as T
  }

  get<T> (path: string): Promise<T> { return this.request<T>('GET', path) }
  post<T> (path: string, body: unknown): Promise<T> { return this.request<T>('POST', path, body) }
  patch<T> (path: string, body: unknown): Promise<T> { return this.request<T>('PATCH', path, body) }
  delete (path: string): Promise<void> { return this.request<void>('DELETE', path) }

  /**
   * Every item of a cursor-paginated list, so that tables can sort and page locally.
   * Bounded: stops after `maxItems` and says so through `truncated`.
   */
  async listAll<T> (path: string, params: Record<string, string> = {}, maxItems = 5000): Promise<{ items: T[], truncated: boolean }> {
    const items: T[] = []
    let cursor: string | null | undefined = null
    do {
      const q = new URLSearchParams({ ...params, limit: '100' })
      if (cursor !== null && cursor !== undefined) q.set('cursor', cursor)
      const page: Page<T> = await this.get<Page<T>>(`${path}?${q.toString()}`)
      items.push(...page.items)
      cursor = page.nextCursor
    } while (cursor !== null && cursor !== undefined && items.length < maxItems)
    return { items, truncated: cursor !== null && cursor !== undefined }
  }
}

export function path (strings: TemplateStringsArray, ...values: string[]): string {
  return strings.reduce((out, s, i) => out + s + (i < values.length ? encodeURIComponent(values[i] as string) : ''), '')
}
