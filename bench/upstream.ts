// The bench upstream: a plain node:http MCP-ish server. POST answers a 211-byte JSON-RPC result
// (the size used for the reference figures), and a POST under /tools-500 a tools/list result of
// 500 tools (the list filter's load, bench/variants.ts --upstream-path /tools-500); GET /sse
// streams 100 events 1 ms apart; a GET under /idle is a Streamable HTTP standalone stream that
// stays open and silent until the client leaves (bench/streams.ts holds thousands of them).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { pathToFileURL } from 'node:url'
import { announceReady, childOptions, exitWithParent } from './child.ts'

export const ANSWER = Buffer.from(JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  result: {
    content: [{ type: 'text', text: 'hello from the bench upstream; this answer is padded to the reference size of 211 bytes...................................' }],
    isError: false
  }
}))

/**
 * The tools of the /tools-500 list: 99 `search_*`, an `echo` and 400 others, each with a
 * description and an input schema, as an MCP server with a large catalogue lists them (163 KB).
 * A key scoped to `["echo", "search_*"]` sees 100 of them.
 */
export const TOOL_NAMES: readonly string[] = Array.from({ length: 500 }, (_, i) =>
  i === 250 ? 'echo' : i % 5 === 0 ? `search_${i}` : `${['get', 'create', 'update', 'delete'][i % 4] ?? 'get'}_item_${i}`)

export const TOOLS_500 = Buffer.from(JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  result: {
    tools: TOOL_NAMES.map(name => ({
      name,
      description: `The bench tool ${name}: takes a query and answers with what it found, at most \`limit\` items.`,
      inputSchema: {
        type: 'object',
        properties: {
          query: { type: 'string', description: 'what to look for' },
          limit: { type: 'integer', minimum: 1, maximum: 100, default: 10 }
        },
        required: ['query']
      }
    }))
  }
}))

export const SSE_EVENTS = 100
export const SSE_INTERVAL_MS = 1

const ANSWER_HEADERS = {
  'content-type': 'application/json',
  'content-length': String(ANSWER.length)
}

const TOOLS_500_HEADERS = {
  'content-type': 'application/json',
  'content-length': String(TOOLS_500.length)
}

function sse (req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
  res.flushHeaders()
  let n = 0
  let timer: NodeJS.Timeout | undefined
  const send = () => {
    res.write(`event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":${n}}}\n\n`)
    n++
    if (n < SSE_EVENTS) timer = setTimeout(send, SSE_INTERVAL_MS)
    else res.end()
  }
  req.on('close', () => clearTimeout(timer))
  send()
}

/** Headers only: no event, no keep-alive comment. The socket stays open until the client closes it. */
function idle (res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
  res.flushHeaders()
}

export function handle (req: IncomingMessage, res: ServerResponse): void {
  if (req.method === 'GET' && req.url !== undefined && req.url.endsWith('/sse')) {
    sse(req, res)
    return
  }
  if (req.method === 'GET' && req.url !== undefined && req.url.startsWith('/idle')) {
    idle(res)
    return
  }
  const list = req.url !== undefined && req.url.startsWith('/tools-500')
  // Drain the request body before answering, as a real JSON-RPC server would parse it.
  req.on('data', () => {})
  req.on('end', () => {
    res.writeHead(200, list ? TOOLS_500_HEADERS : ANSWER_HEADERS)
    res.end(list ? TOOLS_500 : ANSWER)
  })
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href
if (isMain) {
  const opts = childOptions()
  const server = createServer({ keepAliveTimeout: 120_000 }, handle)
  server.listen(Number(opts.port ?? 0), '127.0.0.1', () => {
    const addr = server.address()
    announceReady(typeof addr === 'object' && addr !== null ? addr.port : 0)
  })
  exitWithParent(() => new Promise<void>(resolve => {
    server.closeAllConnections()
    server.close(() => resolve())
  }))
}
