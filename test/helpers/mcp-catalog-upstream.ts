// A server-everything-like MCP upstream for per-tool scope tests (real SDK server, Streamable HTTP
// on /mcp and legacy HTTP+SSE on /sse): twelve tools, five prompts, six resources and three
// resource templates, every call recorded, and a way to add a tool at run time (the SDK then
// sends notifications/tools/list_changed).
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { Test } from 'tap'
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js'
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js'
import * as z from 'zod'

export const TOOLS = ['search_issues', 'search_code', 'get_issue', 'get_repo', 'list_commits', 'create_issue', 'update_issue', 'delete_repo', 'merge_pr', 'read_file', 'write_file', 'run_workflow']
export const PROMPTS = ['summarize', 'review_pr', 'triage', 'release_notes', 'secret_prompt']
export const RESOURCES = ['repo://docs/readme', 'repo://docs/guide', 'repo://docs/api', 'repo://src/main', 'repo://secrets/token', 'repo://secrets/key']
export const TEMPLATES = ['repo://docs/{page}', 'repo://src/{file}', 'repo://secrets/{name}']

export interface CatalogUpstream {
  readonly origin: string
  readonly mcpUrl: string
  readonly sseUrl: string
  /** Every tools/call, prompts/get and resources/read the upstream ran, by name or uri. */
  readonly ran: string[]
  /** The method of every JSON-RPC message POSTed to either endpoint, in order (`initialize` counts sessions). */
  readonly methods: string[]
  /** Adds a tool to every live session (each session's client is told the list changed). */
  addTool (name: string): void
}

export async function startCatalogUpstream (t: Test): Promise<CatalogUpstream> {
  const ran: string[] = []
  const methods: string[] = []
  const servers = new Set<McpServer>()
  const streamable = new Map<string, StreamableHTTPServerTransport>()
  const legacy = new Map<string, SSEServerTransport>()
  const extra: string[] = []

  function build (): McpServer {
    const mcp = new McpServer({ name: 'catalog', version: '1.0.0' }, { capabilities: { tools: { listChanged: true }, prompts: {}, resources: {} } })
    const tool = (name: string): void => {
      mcp.registerTool(name, { description: `the ${name} tool`, inputSchema: { text: z.string().optional() } }, async () => {
        ran.push(name)
        return { content: [{ type: 'text', text: `${name} ran` }] }
      })
    }
    for (const name of [...TOOLS, ...extra]) tool(name)
    for (const name of PROMPTS) {
      mcp.registerPrompt(name, { description: `the ${name} prompt` }, async () => {
        ran.push(name)
        return { messages: [{ role: 'user', content: { type: 'text', text: name } }] }
      })
    }
    for (const uri of RESOURCES) {
      mcp.registerResource(uri, uri, { mimeType: 'text/plain' }, async u => {
        ran.push(u.href)
        return { contents: [{ uri: u.href, mimeType: 'text/plain', text: `content of ${u.href}` }] }
      })
    }
    for (const [i, template] of TEMPLATES.entries()) {
      mcp.registerResource(`template-${i}`, new ResourceTemplate(template, { list: undefined }), { mimeType: 'text/plain' }, async u => {
        ran.push(u.href)
        return { contents: [{ uri: u.href, mimeType: 'text/plain', text: 'templated' }] }
      })
    }
    servers.add(mcp)
    ;(mcp as McpServer & { addTool?: (n: string) => void }).addTool = tool
    return mcp
  }

  async function readJson (req: IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  }

  function notFound (res: ServerResponse, message: string): void {
    res.writeHead(404, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32001, message } }))
  }

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://upstream')
    const body = req.method === 'POST' ? await readJson(req) : undefined
    for (const m of Array.isArray(body) ? body : [body]) {
      const method = (m as { method?: unknown } | undefined)?.method
      if (typeof method === 'string') methods.push(method)
    }
    if (url.pathname === '/sse' && req.method === 'GET') {
      const transport = new SSEServerTransport('/messages', res)
      legacy.set(transport.sessionId, transport)
      transport.onclose = () => { legacy.delete(transport.sessionId) }
      await build().connect(transport)
      return
    }
    if (url.pathname === '/messages' && req.method === 'POST') {
      const transport = legacy.get(url.searchParams.get('sessionId') ?? '')
      if (transport === undefined) return notFound(res, 'Session not found')
      return transport.handlePostMessage(req, res, body)
    }
    const sessionId = req.headers['mcp-session-id']
    if (typeof sessionId === 'string') {
      const transport = streamable.get(sessionId)
      if (transport === undefined) return notFound(res, 'Session not found')
      return transport.handleRequest(req, res, body)
    }
    if (req.method !== 'POST' || !isInitializeRequest(body)) return notFound(res, 'no session')
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: id => { streamable.set(id, transport) }
    })
    transport.onclose = () => { if (transport.sessionId !== undefined) streamable.delete(transport.sessionId) }
    await build().connect(transport)
    await transport.handleRequest(req, res, body)
  }

  const sockets = new Set<Socket>()
  const server = createServer((req, res) => {
    handle(req, res).catch(() => { if (!res.headersSent) res.writeHead(500).end(); else res.destroy() })
  })
  server.on('connection', s => { sockets.add(s); s.on('close', () => sockets.delete(s)) })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    await Promise.all([...streamable.values(), ...legacy.values()].map(tr => tr.close().catch(() => {})))
    for (const s of sockets) s.destroy()
    await new Promise<void>(resolve => server.close(() => resolve()))
  })
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    origin,
    mcpUrl: `${origin}/mcp`,
    sseUrl: `${origin}/sse`,
    ran,
    methods,
    addTool (name) {
      extra.push(name)
      for (const mcp of servers) (mcp as McpServer & { addTool: (n: string) => void }).addTool(name)
    }
  }
}
