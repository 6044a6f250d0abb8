// Legacy HTTP+SSE (MCP 2024-11-05): the server's first event is `event: endpoint` whose data is
// the URL the client must POST to. It names the upstream, so it is rewritten to the gateway path.
// The rewrite holds bytes only until the first real event is complete (bounded), is robust to
// any chunk split (even inside a CRLF or a UTF-8 sequence), and passes every later byte untouched.
import type { RegisteredServer } from './registry.ts'
import type { BodyFilter } from './upstream-exchange.ts'

export const DEFAULT_MAX_BUFFER = 16 * 1024

const EMPTY = Buffer.alloc(0)
const LF = 0x0a
const CR = 0x0d

/**
 * End of the first event in `buf` from `from`: `end` is where its blank line starts and `next`
 * where the following event starts. null when more bytes are needed (a lone trailing CR may be
 * half of a CRLF).
 */
export function findEventEnd (buf: Buffer, from: number): { end: number, next: number } | null {
  let lineStart = from
  let i = from
  while (i < buf.length) {
    const c = buf[i]
    if (c !== LF && c !== CR) { i++; continue }
    let after = i + 1
    if (c === CR) {
      if (after >= buf.length) return null
      if (buf[after] === LF) after++
    }
    if (i === lineStart) return { end: i, next: after }
    lineStart = after
    i = after
  }
  return null
}

const LINE_BREAK = /\r\n|\r|\n/

type Classified = { kind: 'comments' } | { kind: 'endpoint', data: string } | { kind: 'other' }

function classify (block: string): Classified {
  let event = 'message'
  let hasField = false
  const data: string[] = []
  for (const line of block.split(LINE_BREAK)) {
    if (line === '' || line.startsWith(':')) continue
    hasField = true
    const colon = line.indexOf(':')
    const field = colon < 0 ? line : line.slice(0, colon)
    let value = colon < 0 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'event') event = value
    else if (field === 'data') data.push(value)
  }
  if (!hasField) return { kind: 'comments' }
  return event === 'endpoint' ? { kind: 'endpoint', data: data.join('\n') } : { kind: 'other' }
}

export interface SseEndpointRewriteOptions {
  /** The new data for the endpoint event, or null to leave it untouched. */
  rewrite: (endpoint: string) => string | null
  /** Bytes held while looking for the first event before giving up and passing through. */
  maxBuffer?: number
}

/**
 * Fed the upstream body chunk by chunk (upstream-exchange.ts); each call returns the bytes to
 * pass on now. Once `done`, every later byte would pass untouched, so the caller stops feeding it
 * and writes the chunks straight through: a stream stays free of a Transform for its lifetime.
 */
export class SseEndpointRewrite implements BodyFilter {
  #pending: Buffer = EMPTY
  #out: Buffer[] = []
  #done = false
  readonly #rewrite: (endpoint: string) => string | null
  readonly #maxBuffer: number

  constructor (options: SseEndpointRewriteOptions) {
    this.#rewrite = options.rewrite
    this.#maxBuffer = options.maxBuffer ?? DEFAULT_MAX_BUFFER
  }

  /** The first event has been passed on (rewritten or not): later bytes need no look. */
  get done (): boolean {
    return this.#done
  }

  /** The bytes of `chunk` (and of earlier held ones) that can go out now, in order; may be empty. */
  feed (chunk: Buffer): Buffer {
    if (this.#done) return chunk
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk])
    this.#scan()
    return this.#take()
  }

  /** At the end of the body: whatever is still held (an incomplete first event). */
  flush (): Buffer {
    this.#out.push(this.#pending)
    this.#pending = EMPTY
    this.#done = true
    return this.#take()
  }

  #take (): Buffer {
    const out = this.#out
    if (out.length === 0) return EMPTY
    this.#out = []
    return out.length === 1 ? out[0] as Buffer : Buffer.concat(out)
  }

  #scan (): void {
    let from = 0
    while (!this.#done) {
      const found = findEventEnd(this.#pending, from)
      if (found === null) break
      const block = this.#pending.subarray(from, found.end).toString('utf8')
      const separator = this.#pending.subarray(found.end, found.next)
      const c = classify(block)
      if (c.kind === 'comments') {
        // Comments (keep-alives) before the first event: forward them now, keep looking.
        this.#out.push(this.#pending.subarray(from, found.next))
        from = found.next
        continue
      }
      this.#done = true
      const replacement = c.kind === 'endpoint' ? this.#rewrite(c.data) : null
      if (replacement === null || /[\r\n]/.test(replacement)) {
        this.#out.push(this.#pending.subarray(from))
      } else {
        this.#out.push(Buffer.from(rewriteBlock(block, replacement), 'utf8'), separator, this.#pending.subarray(found.next))
      }
      this.#pending = EMPTY
      return
    }
    this.#pending = this.#pending.subarray(from)
    if (this.#pending.length > this.#maxBuffer) {
      // Not an SSE stream we understand: stop looking and pass everything through untouched.
      this.#done = true
      this.#out.push(this.#pending)
      this.#pending = EMPTY
    }
  }
}

/** Replaces the data line(s) of an event block with one `data:` line, other lines untouched. */
function rewriteBlock (block: string, data: string): string {
  const lineBreak = /\r\n|\r|\n/.exec(block)?.[0] ?? '\n'
  const out: string[] = []
  let written = false
  for (const line of block.split(LINE_BREAK)) {
    if (line === 'data' || line.startsWith('data:')) {
      if (!written) out.push(`data: ${data}`)
      written = true
    } else {
      out.push(line)
    }
  }
  // block ends with a line break, so split() left a trailing '' that restores it on join.
  if (!written) out.splice(out.length - 1, 0, `data: ${data}`)
  return out.join(lineBreak)
}

/**
 * The legacy endpoint URL (`data` of the endpoint event, relative to the `requested` SSE URL) as a
 * gateway path, if it lies under this server's directory; null otherwise.
 */
export function gatewayEndpoint (server: RegisteredServer, requested: URL, data: string, publicPathPrefix: string): string | null {
  let target: URL
  try {
    target = new URL(data.trim(), requested)
  } catch {
    return null
  }
  if (target.origin !== server.url.origin) return null
  const base = `${publicPathPrefix}/mcp-connect/${server.id}`
  if (target.pathname === server.url.pathname) return base + target.search
  if (!target.pathname.startsWith(server.directory.pathname)) return null
  return `${base}/${target.pathname.slice(server.directory.pathname.length)}${target.search}`
}
