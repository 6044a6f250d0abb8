// Real upstreams for gateway tests, on port 0 at 127.0.0.1, each recording every request it gets
// (method, url, headers, body) and counting its open sockets:
// - startMcpUpstream: an MCP SDK server speaking Streamable HTTP (/mcp) and legacy HTTP+SSE
//   (/sse + /messages), with tools echo, progress (notifies, then answers only when the test calls
//   release()), notify (a server-initiated notification on the standalone GET stream), and a resource.
// - startRawUpstream: a plain node:http server with a test-supplied handler, for fault cases.
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { Test } from 'tap'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js'
import * as z from 'zod'

export interface RecordedRequest {
  readonly method: string
  readonly url: string
  readonly headers: IncomingHttpHeaders
  /** The request body as received, as UTF-8 text and as bytes (filled in once fully read). */
  body: string
  bodyBytes: Buffer
  /** Resolves when the upstream sees this request's connection/response close. */
  readonly closed: Promise<void>
  closedAt: number | null
  readonly receivedAt: number
}

export interface UpstreamBase {
  /** http://127.0.0.1:PORT */
  readonly origin: string
  readonly port: number
  readonly requests: RecordedRequest[]
  openSockets(): number
  /** Polls (bounded) until a recorded request matches. */
  waitForRequest(match: (r: RecordedRequest) => boolean, timeoutMs?: number): Promise<RecordedRequest>
  close(): Promise<void>
}

export interface McpUpstream extends UpstreamBase {
  /** Streamable HTTP endpoint: origin + /mcp */
  readonly mcpUrl: string
  /** Legacy HTTP+SSE endpoint: origin + /sse (POSTs go to /messages?sessionId=…) */
  readonly sseUrl: string
  /** Lets every pending `progress` tool call answer. */
  release(): void
  /** Number of `progress` calls currently waiting for release(). */
  waiting(): number
  /** Live Streamable HTTP sessions. */
  sessionCount(): number
}

/** Promise.withResolvers is Node 22+; the gateway supports Node 20. */
function deferred (): { promise: Promise<void>, resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>(_resolve => { resolve = _resolve })
  return { promise, resolve }
}

async function poll<T> (fn: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = fn()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

async function readBody (req: IncomingMessage, rec: RecordedRequest): Promise<void> {
  rec.bodyBytes = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
  rec.body = rec.bodyBytes.toString('utf8')
}

async function listen (server: Server, sockets: Set<Socket>): Promise<number> {
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  return (server.address() as AddressInfo).port
}

function record (requests: RecordedRequest[], req: IncomingMessage, res: ServerResponse): RecordedRequest {
  let onClosed!: () => void
  const closed = new Promise<void>(resolve => { onClosed = resolve })
  const rec: RecordedRequest = {
    method: req.method ?? '',
    url: req.url ?? '',
    headers: { ...req.headers },
    body: '',
    bodyBytes: Buffer.alloc(0),
    closed,
    closedAt: null,
    receivedAt: Date.now()
  }
  res.on('close', () => {
    rec.closedAt = Date.now()
    onClosed()
  })
  requests.push(rec)
  return rec
}

function base (server: Server, port: number, requests: RecordedRequest[], sockets: Set<Socket>, beforeClose: () => Promise<void>): UpstreamBase {
  let closing: Promise<void> | undefined
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    requests,
    openSockets: () => sockets.size,
    waitForRequest: (match, timeoutMs = 5000) => poll(() => requests.find(match), timeoutMs, 'an upstream request'),
    close () {
      closing ??= (async () => {
        await beforeClose()
        server.closeAllConnections()
        for (const s of sockets) s.destroy()
        await new Promise<void>(resolve => server.close(() => resolve()))
      })()
      return closing
    }
  }
}

export type RawHandler = (req: IncomingMessage, res: ServerResponse, rec: RecordedRequest) => void | Promise<void>

/** A plain HTTP upstream; the body is recorded before `handler` runs only if `readBody` is true. */
export async function startRawUpstream (t: Test, handler: RawHandler, options: { readBody?: boolean } = {}): Promise<UpstreamBase> {
  const requests: RecordedRequest[] = []
  const sockets = new Set<Socket>()
  const server = createServer((req, res) => {
    const rec = record(requests, req, res)
    const run = async (): Promise<void> => {
      if (options.readBody === true) await readBody(req, rec)
      await handler(req, res, rec)
    }
    run().catch(() => res.destroy())
  })
  const port = await listen(server, sockets)
  const upstream = base(server, port, requests, sockets, async () => {})
  t.teardown(() => upstream.close())
  return upstream
}

export async function startMcpUpstream (t: Test): Promise<McpUpstream> {
  const requests: RecordedRequest[] = []
  const sockets = new Set<Socket>()
  const streamable = new Map<string, StreamableHTTPServerTransport>()
  const legacy = new Map<string, SSEServerTransport>()
  let gate = deferred()
  let waiting = 0

  function buildServer (): McpServer {
    const mcp = new McpServer({ name: 'mcpgate-test-upstream', version: '1.0.0' }, { capabilities: { logging: {} } })
    mcp.registerTool('echo', { inputSchema: { text: z.string() } },
      async ({ text }) => ({ content: [{ type: 'text', text }] }))
    mcp.registerTool('progress', { inputSchema: { steps: z.number().int().min(1).max(100) } }, async ({ steps }, extra) => {
      const token = extra._meta?.progressToken
      if (token !== undefined) {
        for (let i = 1; i <= steps; i++) {
          await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: i, total: steps } })
        }
      }
      waiting++
      try {
        await gate.promise
      } finally {
        waiting--
      }
      return { content: [{ type: 'text', text: 'done' }] }
    })
    mcp.registerTool('notify', { inputSchema: { message: z.string() } }, async ({ message }) => {
      // No relatedRequestId: Streamable HTTP sends this on the standalone GET stream.
      await mcp.server.notification({ method: 'notifications/message', params: { level: 'info', data: message } })
      return { content: [{ type: 'text', text: 'sent' }] }
    })
    mcp.registerResource('greeting', 'test://greeting', { mimeType: 'text/plain' },
      async uri => ({ contents: [{ uri: uri.href, mimeType: 'text/plain', text: 'hello from upstream' }] }))
    return mcp
  }

  function jsonRpcError (res: ServerResponse, status: number, code: number, message: string): void {
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message } }))
  }

  async function handle (req: IncomingMessage, res: ServerResponse, rec: RecordedRequest): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://upstream')
    let body: unknown
    if (req.method === 'POST') {
      await readBody(req, rec)
      try {
        body = JSON.parse(rec.body)
      } catch {
        return jsonRpcError(res, 400, -32700, 'Parse error')
      }
    }

    if (url.pathname === '/sse' && req.method === 'GET') {
      const transport = new SSEServerTransport('/messages', res)
      legacy.set(transport.sessionId, transport)
      transport.onclose = () => { legacy.delete(transport.sessionId) }
      await buildServer().connect(transport)
      return
    }
    if (url.pathname === '/messages' && req.method === 'POST') {
      const transport = legacy.get(url.searchParams.get('sessionId') ?? '')
      if (transport === undefined) return jsonRpcError(res, 404, -32001, 'Session not found')
      return transport.handlePostMessage(req, res, body)
    }
    if (url.pathname !== '/mcp') return jsonRpcError(res, 404, -32601, 'Not found')

    const sessionId = req.headers['mcp-session-id']
    if (typeof sessionId === 'string') {
      const transport = streamable.get(sessionId)
      if (transport === undefined) return jsonRpcError(res, 404, -32001, 'Session not found')
      return transport.handleRequest(req, res, body)
    }
    if (req.method !== 'POST' || !isInitializeRequest(body)) return jsonRpcError(res, 400, -32000, 'Bad Request: no session')
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: id => { streamable.set(id, transport) }
    })
    transport.onclose = () => { if (transport.sessionId !== undefined) streamable.delete(transport.sessionId) }
    await buildServer().connect(transport)
    await transport.handleRequest(req, res, body)
  }

  const server = createServer((req, res) => {
    const rec = record(requests, req, res)
    handle(req, res, rec).catch(() => {
      if (!res.headersSent) jsonRpcError(res, 500, -32603, 'Internal error')
      else res.destroy()
    })
  })
  const port = await listen(server, sockets)
  const upstream = base(server, port, requests, sockets, async () => {
    gate.resolve()
    await Promise.all([...streamable.values(), ...legacy.values()].map(tr => tr.close().catch(() => {})))
  })
  t.teardown(() => upstream.close())
  return {
    ...upstream,
    mcpUrl: `${upstream.origin}/mcp`,
    sseUrl: `${upstream.origin}/sse`,
    release () {
      gate.resolve()
      gate = deferred()
    },
    waiting: () => waiting,
    sessionCount: () => streamable.size
  }
}
