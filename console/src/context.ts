// What every page gets: the API client, the console config, the caller and the server catalogue.
import type { Api, McpServer, Me } from './api.ts'
import type { ConsoleConfig } from './auth.ts'

export interface AppContext {
  api: Api
  config: ConsoleConfig
  me: Me
  isAdmin: boolean
  /** From GET /api/mcp-servers: a user's reachable servers; an admin's full catalogue with `reachable` and `access`. */
  servers: McpServer[]
  reloadServers: () => Promise<void>
  /** Shows the current page again, e.g. from a Retry button (set by the router, app.ts). */
  reload?: () => void
}

/** Servers the caller may scope a key to now. */
export function choosableServers (ctx: AppContext): McpServer[] {
  return ctx.servers.filter(s => s.reachable !== false)
}
