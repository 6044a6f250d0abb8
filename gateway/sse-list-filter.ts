// The list filter on an event stream (mcp-filter.ts): every event is held until it is complete
// (any chunk split, even inside a CRLF or a UTF-8 sequence), and an event whose data is a JSON-RPC
// list result goes out with the entries the rule does not allow removed; every other event passes
// byte for byte. Answers the gateway gives itself (refused calls of a batch) go first.
import { filterLists, mayHoldList } from './mcp-filter.ts'
import type { EffectiveRule } from '../core/tool-scope.ts'
import { findEventEnd } from './sse-endpoint-rewrite.ts'
import type { BodyFilter } from './upstream-exchange.ts'

/** An event this long without its end is not one a client could use; the stream is cut. */
export const MAX_EVENT_BYTES = 16 * 1024 * 1024

const EMPTY = Buffer.alloc(0)
const LINE_BREAK = /\r\n|\r|\n/

/** The data of an event block (its `data:` lines joined), or null when it has none. */
function dataOf (block: string): string | null {
  let data: string[] | null = null
  for (const line of block.split(LINE_BREAK)) {
    if (line !== 'data' && !line.startsWith('data:')) continue
    let value = line.slice(5)
    if (value.startsWith(' ')) value = value.slice(1)
    ;(data ??= []).push(value)
  }
  return data === null ? null : data.join('\n')
}

/** The block with its data lines replaced by one `data:` line (JSON.stringify has no line breaks). */
function withData (block: string, data: string): string {
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
  return out.join(lineBreak)
}

export function answerEvents (answers: readonly object[]): Buffer {
  return Buffer.from(answers.map(a => `event: message\ndata: ${JSON.stringify(a)}\n\n`).join(''), 'utf8')
}

export class SseListFilter implements BodyFilter {
  #pending: Buffer = EMPTY
  #first: Buffer | null
  readonly #rule: EffectiveRule
  readonly #era: boolean

  constructor (rule: EffectiveRule, era: boolean, answers: readonly object[] = []) {
    this.#rule = rule
    this.#era = era
    this.#first = answers.length > 0 ? answerEvents(answers) : null
  }

  /** Never: any later event may be a list result. */
  get done (): boolean { return false }

  feed (chunk: Buffer): Buffer {
    const out: Buffer[] = []
    if (this.#first !== null) {
      out.push(this.#first)
      this.#first = null
    }
    const buf = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk])
    let from = 0
    for (;;) {
      const found = findEventEnd(buf, from)
      if (found === null) break
      out.push(this.#event(buf.subarray(from, found.end), buf.subarray(found.end, found.next)))
      from = found.next
    }
    this.#pending = buf.subarray(from)
    if (this.#pending.length > MAX_EVENT_BYTES) throw new Error(`an event stream event grew past ${MAX_EVENT_BYTES} bytes without ending`)
    return out.length === 1 ? out[0] as Buffer : Buffer.concat(out)
  }

  flush (): Buffer {
    // An incomplete last event: no client can act on it; it is dropped rather than passed unfiltered.
    const first = this.#first ?? EMPTY
    this.#first = null
    this.#pending = EMPTY
    return first
  }

  #event (blockBytes: Buffer, separator: Buffer): Buffer {
    const block = blockBytes.toString('utf8')
    const data = dataOf(block)
    if (data === null || !mayHoldList(data)) return Buffer.concat([blockBytes, separator])
    let parsed: unknown
    try {
      parsed = JSON.parse(data)
    } catch {
      return Buffer.concat([blockBytes, separator])
    }
    if (!filterLists(parsed, this.#rule, this.#era)) return Buffer.concat([blockBytes, separator])
    return Buffer.concat([Buffer.from(withData(block, JSON.stringify(parsed)), 'utf8'), separator])
  }
}

/** Two filters in a row (the legacy endpoint rewrite, then the list filter). */
export class ChainedFilter implements BodyFilter {
  constructor (private readonly first: BodyFilter, private readonly second: BodyFilter) {}

  get done (): boolean { return this.first.done && this.second.done }

  feed (chunk: Buffer): Buffer {
    const mid = this.first.done ? chunk : this.first.feed(chunk)
    return mid.length === 0 ? mid : this.second.feed(mid)
  }

  flush (): Buffer {
    const mid = this.first.flush()
    const a = mid.length === 0 ? EMPTY : this.second.feed(mid)
    const b = this.second.flush()
    return a.length === 0 ? b : b.length === 0 ? a : Buffer.concat([a, b])
  }
}
