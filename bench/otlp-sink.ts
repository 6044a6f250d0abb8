// A stand-in OTLP/HTTP collector for the tracing variant of bench/variants.ts: accepts
// `POST /v1/traces` (OTLP JSON, as @opentelemetry/exporter-trace-otlp-http sends it), answers 200
// `{}`, and counts what it got, so a run can tell how many spans arrived (the exporter's queue
// drops spans when it is full). `GET /stats` answers `{ exports, bytes, spans }`. Runs on the load
// generator's core, like the upstream; it never parses a body, it counts `"spanId":` in it.
import { createServer } from 'node:http'
import { announceReady, childOptions, exitWithParent } from './child.ts'

const SPAN_ID = Buffer.from('"spanId":')
const stats = { exports: 0, bytes: 0, spans: 0 }

/** Occurrences of `"spanId":` (one per span: a parent's id is `"parentSpanId"`, a link's inside `links`). */
function countSpans (body: Buffer): number {
  let n = 0
  for (let i = body.indexOf(SPAN_ID); i >= 0; i = body.indexOf(SPAN_ID, i + SPAN_ID.length)) n++
  return n
}

const server = createServer({ keepAliveTimeout: 120_000 }, (req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(stats))
    return
  }
  if (req.method !== 'POST' || req.url !== '/v1/traces') {
    res.writeHead(404).end()
    return
  }
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    const body = Buffer.concat(chunks)
    stats.exports++
    stats.bytes += body.length
    stats.spans += countSpans(body)
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
  })
})
server.listen(Number(childOptions().port ?? 0), '127.0.0.1', () => {
  const addr = server.address()
  announceReady(typeof addr === 'object' && addr !== null ? addr.port : 0)
})
exitWithParent(() => new Promise<void>(resolve => {
  server.closeAllConnections()
  server.close(() => resolve())
}))
