// Legacy HTTP+SSE (MCP 2024-11-05): the server's first event is `event: endpoint` whose data is
// the URL the client must POST to. It names the upstream, so it is rewritten to the gateway path.
// The transform holds bytes only until the first real event is complete (bounded), is robust to
// any chunk split (even inside a CRLF or a UTF-8 sequence), and passes every later byte untouched.
import { Transform, type TransformCallback } from 'node:stream'

export const DEFAULT_MAX_BUFFER = 16 * 1024

const LF = 0x0a
const CR = 0x0d

/**
 * End of the first event in `buf` from `from`: `end` is where its blank line starts and `next`
 * where the following event starts. null when more bytes are needed (a lone trailing CR may be
 * half of a CRLF).
 */
function findEventEnd (buf: Buffer, from: number): { end: number, next: number } | null {
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

export class SseEndpointRewrite extends Transform {
  #pending: Buffer = Buffer.alloc(0)
  #done = false
  readonly #rewrite: (endpoint: string) => string | null
  readonly #maxBuffer: number

  constructor (options: SseEndpointRewriteOptions) {
    super()
    this.#rewrite = options.rewrite
    this.#maxBuffer = options.maxBuffer ?? DEFAULT_MAX_BUFFER
  }

  override _transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#done) {
      callback(null, chunk)
      return
    }
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk])
    this.#scan()
    callback()
  }

  override _flush (callback: TransformCallback): void {
    if (this.#pending.length > 0) this.push(this.#pending)
    this.#pending = Buffer.alloc(0)
    callback()
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
        this.push(this.#pending.subarray(from, found.next))
        from = found.next
        continue
      }
      this.#done = true
      const replacement = c.kind === 'endpoint' ? this.#rewrite(c.data) : null
      if (replacement === null || /[\r\n]/.test(replacement)) {
        this.push(this.#pending.subarray(from))
      } else {
        this.push(Buffer.from(rewriteBlock(block, replacement), 'utf8'))
        this.push(separator)
        if (found.next < this.#pending.length) this.push(this.#pending.subarray(found.next))
      }
      this.#pending = Buffer.alloc(0)
      return
    }
    this.#pending = this.#pending.subarray(from)
    if (this.#pending.length > this.#maxBuffer) {
      // Not an SSE stream we understand: stop looking and pass everything through untouched.
      this.#done = true
      this.push(this.#pending)
      this.#pending = Buffer.alloc(0)
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
