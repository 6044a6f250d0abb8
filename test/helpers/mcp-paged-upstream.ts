// A small scriptable MCP upstream (the SDK's low-level Server, stateless Streamable HTTP with JSON
// answers) for the admin API's catalog tests: `tools` tools listed `pageSize` per page (or a
// cursor that never ends), and a `gate` that can refuse a request with a status or hold it
// unanswered, with every request's headers and JSON-RPC method recorded.
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'
import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js'

export interface PagedUpstreamOptions {
  tools: number
  pageSize: number
  /** Every page answers a new nextCursor: the list never ends. */
  endless?: boolean
  /** A status to refuse the request with, 'hang' to never answer it, or null to serve it. */
  gate?: (headers: IncomingHttpHeaders) => number | 'hang' | null
}

export interface PagedUpstream {
  readonly url: string
  /** Headers of every request that reached the server, gated or not. */
  readonly requests: IncomingHttpHeaders[]
  /** Every tools/list call's cursor (undefined for the first page). */
  readonly cursors: Array<string | undefined>
}

export async function startPagedUpstream (t: Test, opts: PagedUpstreamOptions): Promise<PagedUpstream> {
  const requests: IncomingHttpHeaders[] = []
  const cursors: Array<string | undefined> = []
  const names = Array.from({ length: opts.tools }, (_, i) => `tool_${String(i).padStart(4, '0')}`)
  const http = createServer((req, res) => {
    requests.push(req.headers)
    const gate = opts.gate?.(req.headers) ?? null
    if (gate === 'hang') return
    if (gate !== null) {
      res.writeHead(gate, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'refused' }))
      return
    }
    const server = new Server({ name: 'paged', version: '1.0.0' }, { capabilities: { tools: {} } })
    server.setRequestHandler(ListToolsRequestSchema, async request => {
      const cursor = request.params?.cursor
      cursors.push(cursor)
      const start = cursor === undefined ? 0 : Number(cursor)
      // Endless: the cursor keeps growing, the pages go round the names.
      const from = start % names.length
      const page = names.slice(from, from + opts.pageSize).map(name => ({ name, description: `${name} does things`, inputSchema: { type: 'object' as const } }))
      const next = start + opts.pageSize
      return { tools: page, ...(opts.endless === true || next < names.length ? { nextCursor: String(next) } : {}) }
    })
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true })
    res.on('close', () => { transport.close().catch(() => {}); server.close().catch(() => {}) })
    server.connect(transport)
      .then(() => transport.handleRequest(req, res))
      .catch(() => { if (!res.headersSent) res.writeHead(500).end() })
  })
  await new Promise<void>(resolve => http.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => { http.closeAllConnections(); http.close(() => resolve()) }))
  return { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`, requests, cursors }
}
