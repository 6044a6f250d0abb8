// The demo upstream for `npm start`: a small real MCP server (official SDK, Streamable HTTP,
// stateful sessions) with a few tools and one resource, so the gateway has something to front.
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js'
import * as z from 'zod'

export interface DemoServer {
  /** The MCP endpoint, e.g. http://127.0.0.1:9000/mcp */
  readonly url: string
  close(): Promise<void>
}

const MAX_BODY = 1024 * 1024

function buildMcpServer (): McpServer {
  const mcp = new McpServer({ name: 'mcpgate-demo', version: '1.0.0' })
  mcp.registerTool('echo', {
    description: 'Echoes the text back',
    inputSchema: { text: z.string() }
  }, async ({ text }) => ({ content: [{ type: 'text', text }] }))
  mcp.registerTool('add', {
    description: 'Adds two numbers',
    inputSchema: { a: z.number(), b: z.number() }
  }, async ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }] }))
  mcp.registerTool('time', {
    description: 'The current time on the server (RFC 3339)'
  }, async () => ({ content: [{ type: 'text', text: new Date().toISOString() }] }))
  mcp.registerResource('readme', 'demo://readme', {
    description: 'What this demo server is',
    mimeType: 'text/plain'
  }, async (uri) => ({
    contents: [{ uri: uri.href, mimeType: 'text/plain', text: 'mcpgate demo server: tools echo, add and time.' }]
  }))
  return mcp
}

function readBody (req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > MAX_BODY) {
        reject(new Error('body too large'))
        req.destroy()
        return
      }
      chunks.push(c)
    })
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

function jsonRpcError (res: ServerResponse, status: number, code: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message } }))
}

export async function startDemoServer (options: { port?: number, host?: string } = {}): Promise<DemoServer> {
  const host = options.host ?? '127.0.0.1'
  const transports = new Map<string, StreamableHTTPServerTransport>()

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://demo').pathname
    // For a container's health check (docker-compose.yml), as the gateway and the admin API answer it.
    if (path === '/healthz' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{"status":"ok"}')
      return
    }
    if (path !== '/mcp') return jsonRpcError(res, 404, -32601, 'Not found: the MCP endpoint is /mcp')
    let body: unknown
    if (req.method === 'POST') {
      try {
        body = JSON.parse(await readBody(req))
      } catch {
        return jsonRpcError(res, 400, -32700, 'Parse error')
      }
    }
    const sessionId = req.headers['mcp-session-id']
    if (typeof sessionId === 'string') {
      const transport = transports.get(sessionId)
      // Unknown or ended session: 404 tells the client to start a new one (MCP Streamable HTTP).
      if (transport === undefined) return jsonRpcError(res, 404, -32001, 'Session not found')
      return transport.handleRequest(req, res, body)
    }
    if (req.method !== 'POST' || !isInitializeRequest(body)) {
      return jsonRpcError(res, 400, -32000, 'Bad Request: no session; start with initialize')
    }
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: id => { transports.set(id, transport) }
    })
    transport.onclose = () => { if (transport.sessionId !== undefined) transports.delete(transport.sessionId) }
    await buildMcpServer().connect(transport)
    await transport.handleRequest(req, res, body)
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) jsonRpcError(res, 500, -32603, 'Internal error')
      else res.destroy()
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, () => resolve())
  })
  const { port } = server.address() as AddressInfo
  const urlHost = host.includes(':') ? `[${host}]` : host

  return {
    url: `http://${urlHost}:${port}/mcp`,
    async close () {
      await Promise.all([...transports.values()].map(t => t.close().catch(() => {})))
      transports.clear()
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}
