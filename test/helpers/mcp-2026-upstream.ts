// A hand-built MCP 2026-07-28 upstream for gateway tests: plain node:http and JSON-RPC, because the
// MCP SDK on Node 20 speaks only the handshake era (up to 2025-11-25). It behaves as the
// 2026-07-28 Streamable HTTP transport says a conforming server does
// (specification/2026-07-28/basic/transports/streamable-http):
// - stateless: no `initialize`, no `Mcp-Session-Id` (a client's is ignored, none is minted);
// - POST only: GET and DELETE answer 405 (the era removed the GET stream and sessions);
// - every POST carries `MCP-Protocol-Version` (missing → 400 -32020, another version → 400 -32022),
//   `Mcp-Method` (= the body's method) and, for tools/call, resources/read and prompts/get,
//   `Mcp-Name` (= params.name / params.uri, Base64 sentinel `=?base64?…?=` decoded); the body's
//   `_meta` protocol version must equal the header. Any disagreement → 400 -32020 HeaderMismatch,
//   and the tool does not run;
// - server/discover, tools/list, tools/call (`echo` and `grüß` answer JSON, `stream_echo` answers
//   as text/event-stream: a progress notification, then the result), subscriptions/listen (a
//   long-lived SSE stream, fed by listChanged()), an unknown method → 404 -32601, a notification
//   → 202.
// Every request is recorded (helpers in mcp-upstream.ts), and so is every answer, byte for byte.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Test } from 'tap'
import { startRawUpstream, type RecordedRequest, type UpstreamBase } from './mcp-upstream.ts'

export const MODERN_VERSION = '2026-07-28'
const META_VERSION = 'io.modelcontextprotocol/protocolVersion'
const HEADER_MISMATCH = -32020
const UNSUPPORTED_VERSION = -32022

/** Headers this upstream puts on every answer, so tests can check that they come back. */
export const MODERN_RESPONSE_HEADERS: Readonly<Record<string, string>> = {
  'x-upstream-era': 'modern',
  'mcp-future-response': 'kept'
}

export interface ModernAnswer {
  status: number
  headers: Record<string, string>
  /** Everything written so far (an open stream keeps growing). */
  body: Buffer
}

export interface ModernUpstream extends UpstreamBase {
  /** origin + /mcp */
  readonly mcpUrl: string
  /** What this upstream answered to a recorded request. */
  answerTo (rec: RecordedRequest): ModernAnswer | undefined
  /** The tools that actually ran, in order (a refused request runs none). */
  readonly toolRuns: string[]
  /** Open subscriptions/listen streams. */
  listeners (): number
  /** Sends notifications/tools/list_changed on every open subscriptions/listen stream. */
  listChanged (): void
}

type Json = Record<string, unknown>

/** `=?base64?…?=` → the decoded UTF-8 value (the spec's Value Encoding); anything else as is. */
export function decodeHeaderValue (value: string): string {
  const m = /^=\?base64\?([A-Za-z0-9+/=]*)\?=$/.exec(value)
  return m === null ? value : Buffer.from(m[1] ?? '', 'base64').toString('utf8')
}

/** A name as a client puts it in `Mcp-Name`: plain when header-safe ASCII, else the Base64 sentinel. */
export function encodeHeaderValue (value: string): string {
  const safe = /^[\x21-\x7E](?:[\x20-\x7E]*[\x21-\x7E])?$/.test(value) && !/^=\?base64\?.*\?=$/.test(value)
  return safe ? value : `=?base64?${Buffer.from(value, 'utf8').toString('base64')}?=`
}

const TOOLS = [
  { name: 'echo', inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] } },
  { name: 'stream_echo', inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] } },
  { name: 'grüß', inputSchema: { type: 'object', properties: {} } }
]

function one (value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value
}

export async function startModernUpstream (t: Test): Promise<ModernUpstream> {
  const answers = new Map<RecordedRequest, ModernAnswer>()
  const toolRuns: string[] = []
  const listening = new Set<ServerResponse>()

  function begin (rec: RecordedRequest, res: ServerResponse, status: number, headers: Record<string, string>): ModernAnswer {
    const all = { ...MODERN_RESPONSE_HEADERS, ...headers }
    const answer: ModernAnswer = { status, headers: all, body: Buffer.alloc(0) }
    answers.set(rec, answer)
    res.writeHead(status, all)
    return answer
  }

  function write (answer: ModernAnswer, res: ServerResponse, chunk: string): void {
    const bytes = Buffer.from(chunk, 'utf8')
    answer.body = Buffer.concat([answer.body, bytes])
    res.write(bytes)
  }

  function json (rec: RecordedRequest, res: ServerResponse, status: number, body: Json, extra: Record<string, string> = {}): void {
    const text = JSON.stringify(body)
    const answer = begin(rec, res, status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...extra })
    write(answer, res, text)
    res.end()
  }

  function error (rec: RecordedRequest, res: ServerResponse, status: number, id: unknown, code: number, message: string, data?: Json): void {
    json(rec, res, status, { jsonrpc: '2.0', id: id ?? null, error: data === undefined ? { code, message } : { code, message, data } })
  }

  function sseEvent (message: Json): string {
    return `event: message\ndata: ${JSON.stringify(message)}\n\n`
  }

  /** The header checks a conforming server makes before it dispatches (Server Validation). */
  function headerProblem (req: IncomingMessage, body: Json): string | null {
    const method = body.method
    const headerMethod = one(req.headers['mcp-method'])
    if (headerMethod === undefined) return 'Header mismatch: Mcp-Method header is missing'
    if (headerMethod !== method) return `Header mismatch: Mcp-Method header value '${headerMethod}' does not match body value '${String(method)}'`
    const params = (typeof body.params === 'object' && body.params !== null ? body.params : {}) as Json
    const named = method === 'tools/call' || method === 'prompts/get' ? params.name : method === 'resources/read' ? params.uri : undefined
    if (method === 'tools/call' || method === 'prompts/get' || method === 'resources/read') {
      const raw = one(req.headers['mcp-name'])
      if (raw === undefined) return 'Header mismatch: Mcp-Name header is missing'
      const headerName = decodeHeaderValue(raw)
      if (headerName !== named) return `Header mismatch: Mcp-Name header value '${headerName}' does not match body value '${String(named)}'`
    }
    const meta = (typeof params._meta === 'object' && params._meta !== null ? params._meta : {}) as Json
    const bodyVersion = meta[META_VERSION]
    if (bodyVersion !== undefined && bodyVersion !== one(req.headers['mcp-protocol-version'])) {
      return `Header mismatch: MCP-Protocol-Version header does not match _meta ${META_VERSION} '${String(bodyVersion)}'`
    }
    return null
  }

  function handle (req: IncomingMessage, res: ServerResponse, rec: RecordedRequest): void {
    const path = new URL(req.url ?? '/', 'http://upstream').pathname
    if (path !== '/mcp') return error(rec, res, 404, null, -32601, 'Not found')
    // The era has no GET stream and no session to DELETE (Backward Compatibility: respond 405).
    if (req.method !== 'POST') {
      const text = JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32000, message: `Method not allowed: ${MODERN_VERSION} takes POST only` } })
      const answer = begin(rec, res, 405, { allow: 'POST', 'content-type': 'application/json' })
      write(answer, res, text)
      res.end()
      return
    }
    const version = one(req.headers['mcp-protocol-version'])
    if (version === undefined) return error(rec, res, 400, null, HEADER_MISMATCH, 'Header mismatch: MCP-Protocol-Version header is missing')
    let body: Json
    try {
      body = JSON.parse(rec.body) as Json
    } catch {
      return error(rec, res, 400, null, -32700, 'Parse error')
    }
    if (version !== MODERN_VERSION) {
      return error(rec, res, 400, body.id, UNSUPPORTED_VERSION, 'Unsupported protocol version', { supported: [MODERN_VERSION], requested: version })
    }
    const problem = headerProblem(req, body)
    if (problem !== null) return error(rec, res, 400, body.id, HEADER_MISMATCH, problem)
    if (body.id === undefined) {
      begin(rec, res, 202, {})
      res.end()
      return
    }
    const id = body.id
    const params = (body.params ?? {}) as Json
    switch (body.method) {
      case 'server/discover':
        return json(rec, res, 200, {
          jsonrpc: '2.0',
          id,
          result: {
            supportedVersions: [MODERN_VERSION],
            capabilities: { tools: { listChanged: true } },
            serverInfo: { name: 'mcpgate-test-modern-upstream', version: '1.0.0' }
          }
        })
      case 'tools/list':
        return json(rec, res, 200, { jsonrpc: '2.0', id, result: { tools: TOOLS, ttlMs: 60000 } }, { 'cache-control': 'private, max-age=60' })
      case 'tools/call': {
        const name = String(params.name)
        const args = (params.arguments ?? {}) as Json
        if (!TOOLS.some(tool => tool.name === name)) return json(rec, res, 200, { jsonrpc: '2.0', id, error: { code: -32602, message: `Unknown tool: ${name}` } })
        toolRuns.push(name)
        const result = { content: [{ type: 'text', text: name === 'grüß' ? 'grüß dich' : String(args.text) }] }
        if (name !== 'stream_echo') return json(rec, res, 200, { jsonrpc: '2.0', id, result })
        const answer = begin(rec, res, 200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
        const token = ((params._meta ?? {}) as Json).progressToken
        write(answer, res, sseEvent({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: token ?? null, progress: 1, total: 2, message: 'half way ✓' } }))
        write(answer, res, sseEvent({ jsonrpc: '2.0', id, result }))
        res.end()
        return
      }
      case 'subscriptions/listen': {
        const answer = begin(rec, res, 200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
        write(answer, res, sseEvent({ jsonrpc: '2.0', method: 'notifications/subscriptions/acknowledged', params: {} }))
        const listener = Object.assign(res, { answer })
        listening.add(listener)
        res.on('close', () => listening.delete(listener))
        return
      }
      default:
        return error(rec, res, 404, id, -32601, `Method not found: ${String(body.method)}`)
    }
  }

  const upstream = await startRawUpstream(t, handle, { readBody: true })
  return {
    ...upstream,
    mcpUrl: `${upstream.origin}/mcp`,
    answerTo: rec => answers.get(rec),
    toolRuns,
    listeners: () => listening.size,
    listChanged () {
      for (const res of listening) {
        const answer = (res as ServerResponse & { answer: ModernAnswer }).answer
        write(answer, res, sseEvent({ jsonrpc: '2.0', method: 'notifications/tools/list_changed', params: {} }))
      }
    }
  }
}

/** The headers a 2026-07-28 client sends with `body` (Accept, Content-Type and the mirrored ones). */
export function modernHeaders (body: { method: string, params?: Json }): Record<string, string> {
  const headers: Record<string, string> = {
    accept: 'application/json, text/event-stream',
    'content-type': 'application/json',
    'mcp-protocol-version': MODERN_VERSION,
    'mcp-method': body.method
  }
  const name = body.method === 'resources/read' ? body.params?.uri : body.params?.name
  if (typeof name === 'string' && ['tools/call', 'prompts/get', 'resources/read'].includes(body.method)) headers['mcp-name'] = encodeHeaderValue(name)
  return headers
}

/** A 2026-07-28 request body: the per-request `_meta` (protocol version, client info, capabilities). */
export function modernRequest (id: number, method: string, params: Json = {}): { jsonrpc: '2.0', id: number, method: string, params: Json } {
  return {
    jsonrpc: '2.0',
    id,
    method,
    params: {
      ...params,
      _meta: {
        [META_VERSION]: MODERN_VERSION,
        'io.modelcontextprotocol/clientInfo': { name: 'mcpgate-test-modern-client', version: '1.0.0' },
        'io.modelcontextprotocol/clientCapabilities': {},
        ...(params._meta as Json | undefined)
      }
    }
  }
}
