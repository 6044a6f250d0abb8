// The upstream MCP servers known to the gateway (from config), looked up by a strictly checked id.
// `update()` swaps the whole table at once so a config reload never shows a half-applied state.
import type { Config, ServerConfig } from '../config/schema.ts'

export const SERVER_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/

export function isServerId (value: unknown): value is string {
  return typeof value === 'string' && SERVER_ID_PATTERN.test(value)
}

export interface RegisteredServer {
  readonly id: string
  readonly config: Readonly<ServerConfig>
  /** The configured endpoint, parsed once: `/mcp-connect/<id>` maps here exactly. */
  readonly url: URL
  /** The endpoint's directory (`http://u/a/mcp` → `http://u/a/`): `/mcp-connect/<id>/<rest>` resolves against it. */
  readonly directory: URL
  /** The configured query without '?' ('' for none). */
  readonly query: string
  /** Lower-cased configured headers, ready to add to every upstream request. */
  readonly headers: Readonly<Record<string, string>>
  /** Open exchanges allowed on this replica (servers[].upstream over gateway.upstream). */
  readonly limits: ServerLimits
}

export interface ServerLimits {
  readonly maxStreams: number
  readonly maxRequests: number
}

export type UpstreamDefaults = Pick<Config['gateway']['upstream'], 'maxStreams' | 'maxRequests'>

function register (config: Readonly<ServerConfig>, defaults: UpstreamDefaults): RegisteredServer {
  const url = new URL(config.url)
  const directory = new URL(url.href)
  directory.pathname = url.pathname.slice(0, url.pathname.lastIndexOf('/') + 1)
  directory.search = ''
  directory.hash = ''
  url.hash = ''
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(config.headers)) headers[name.toLowerCase()] = value
  const limits = Object.freeze({
    maxStreams: config.upstream?.maxStreams ?? defaults.maxStreams,
    maxRequests: config.upstream?.maxRequests ?? defaults.maxRequests
  })
  return Object.freeze({ id: config.id, config, url, directory, query: url.search.slice(1), headers: Object.freeze(headers), limits })
}

export class ServerRegistry {
  #servers = new Map<string, RegisteredServer>()

  constructor (servers: readonly Readonly<ServerConfig>[], defaults: UpstreamDefaults = { maxStreams: 10_000, maxRequests: 1000 }) {
    this.update(servers, defaults)
  }

  get (id: string): RegisteredServer | undefined {
    return this.#servers.get(id)
  }

  list (): RegisteredServer[] {
    return [...this.#servers.values()]
  }

  update (servers: readonly Readonly<ServerConfig>[], defaults: UpstreamDefaults = { maxStreams: 10_000, maxRequests: 1000 }): void {
    const next = new Map<string, RegisteredServer>()
    for (const s of servers) next.set(s.id, register(s, defaults))
    this.#servers = next
  }
}
