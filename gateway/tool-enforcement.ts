// Per-tool scopes on the upstream hop, for the requests authorization gave a rule (request.gate.rule;
// the others never come here). Before dispatch: the body is read (bounded) and inspected
// (mcp-filter.ts); refused calls are answered here and what the rule allows is sent on. After:
// the answer's lists are filtered — a JSON body whole, an event stream event by event — and the
// answers given here merged into a batch's. Legacy HTTP+SSE answers arrive on the session's GET
// stream: a refused call is answered there when that stream is on this replica, else in the
// POST's own response (a 400 the client reports).
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { errors } from '../core/errors.ts'
import type { EffectiveRule } from '../core/tool-scope.ts'
import type { LimitRefusal } from './limits.ts'
import { ALLOW_ALL, filterJsonBody, headerEra, inspectRequest } from './mcp-filter.ts'
import { legacySession } from './sessions.ts'
import { answerEvents, ChainedFilter, SseListFilter } from './sse-list-filter.ts'
import type { BodyFilter, BodyRewrite, UpstreamExchange } from './upstream-exchange.ts'

/** A request to a server a key may use only in part is read whole; MCP requests are small. */
export const MAX_INSPECTED_REQUEST = 4 * 1024 * 1024

/** What the inspection of a request leaves for its answer. */
export interface McpPlan {
  /** Answers given here (refused calls of a batch) to merge into the upstream's. */
  answers: object[]
  batch: boolean
  /** The request asked for a list: a JSON answer is filtered whole. */
  lists: boolean
  /** MCP 2026-07-28 or later (filtered results are marked cacheScope "private"). */
  era: boolean
}

/** A principal's tool-call quota (limits.ts): takes n calls, and answers those past it. */
export interface ToolCallQuota {
  take (n: number): Promise<{ granted: number, refusal: LimitRefusal | null }>
  answer (refusal: LimitRefusal | null): (id: unknown, name: string) => object
}

export type Admission =
  | { forward: Buffer, plan: McpPlan }
  | { answered: true }

export function readBody (req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let length = 0
    const onData = (chunk: Buffer): void => {
      length += chunk.length
      if (length > limit) {
        req.off('data', onData)
        // The rest is read and dropped, so the answer can go out on a healthy connection.
        req.resume()
        reject(new errors.RequestTooLarge(limit))
        return
      }
      chunks.push(chunk)
    }
    req.on('data', onData)
    req.once('end', () => { if (length <= limit) resolve(Buffer.concat(chunks)) })
    req.once('error', reject)
  })
}

function header (headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name]
  return typeof v === 'string' ? v : undefined
}

function json (value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8')
}

export class ToolEnforcement {
  /** Legacy GET streams with a rule, by server and session: refused calls are answered on them. */
  readonly #legacy = new Map<string, UpstreamExchange>()

  /**
   * Reads and inspects a POST under `rule`. Answers it here when nothing is left to send (or it
   * is malformed); otherwise returns what to send and what its answer needs.
   */
  async admit (request: FastifyRequest, reply: FastifyReply, rule: EffectiveRule, quota: ToolCallQuota | null): Promise<Admission> {
    const body = await readBody(request.raw, MAX_INSPECTED_REQUEST)
    const headers = request.headers
    const version = header(headers, 'mcp-protocol-version')
    const era = { version, method: header(headers, 'mcp-method'), name: header(headers, 'mcp-name') }
    let seen = inspectRequest(body, rule, era)
    if (seen.ok && quota !== null) {
      // The tool calls the rule lets through spend the quota; those past it are answered here.
      const calls = seen.calls.filter(c => c.method === 'tools/call' && c.refused === undefined).length
      if (calls > 0) {
        const taken = await quota.take(calls)
        if (taken.granted < calls) seen = inspectRequest(body, rule, era, { allowed: taken.granted, answer: quota.answer(taken.refusal) })
      }
    }
    if (seen.ok) request.gate.described(seen.calls)
    if (!seen.ok) {
      reply.send(seen.error === 'parse' ? new errors.McpParseError() : seen.error === 'invalid' ? new errors.McpInvalidRequest(seen.message) : new errors.McpHeaderMismatch(seen.message))
      return { answered: true }
    }
    const { forward, answers, batch } = seen
    const gate = request.gate
    const legacy = gate.target?.subPath === true ? legacySession((gate.target.path.split('?')[1] ?? '')) : null
    if (legacy !== null && answers.length > 0) {
      const stream = this.#legacy.get(`${gate.server?.id ?? ''}\n${legacy}`)
      // The session's stream is here: the refusals are answered on it, as the upstream would.
      if (stream !== undefined && stream.inject(answerEvents(answers))) {
        if (forward !== null) return { forward, plan: { answers: [], batch, lists: seen.lists, era: headerEra(version) } }
        reply.code(202).type('text/plain; charset=utf-8').send('Accepted')
        return { answered: true }
      }
      // It is on another replica: the POST itself fails, with the refusal, and nothing is sent on.
      reply.code(400).type('application/json; charset=utf-8').send(json(batch ? answers : answers[0]))
      return { answered: true }
    }
    if (forward === null) {
      reply.code(200).type('application/json; charset=utf-8').send(json(batch ? answers : answers[0]))
      return { answered: true }
    }
    return { forward, plan: { answers, batch, lists: seen.lists, era: headerEra(version) } }
  }

  /**
   * The answer's part: an event stream gets the list filter (after `filter`, the legacy endpoint
   * rewrite), a JSON answer to a list or a partly refused batch is rewritten whole.
   */
  responsePlan (exchange: UpstreamExchange, headers: IncomingHttpHeaders, filter: BodyFilter | null): { filter: BodyFilter | null, rewrite: BodyRewrite | null } {
    const gateRule = exchange.request.gate.rule
    const plan = exchange.mcp
    // Nothing to filter and nothing to merge (a request read for its quota that kept all its calls).
    if (gateRule === null && (plan === null || plan.answers.length === 0)) return { filter, rewrite: null }
    const rule = gateRule ?? ALLOW_ALL
    const encoding = headers['content-encoding']
    if (encoding !== undefined && encoding !== 'identity') {
      // The gateway asked for identity: an encoded answer cannot be filtered, so it is not relayed.
      const refuse = (): never => { throw new Error(`the upstream answered with content-encoding "${String(encoding)}" to a request with a tool scope`) }
      return exchange.stream ? { filter: { done: false, feed: refuse, flush: refuse }, rewrite: null } : { filter: null, rewrite: refuse }
    }
    const era = plan?.era ?? headerEra(header(exchange.request.headers, 'mcp-protocol-version'))
    if (exchange.stream) {
      const lists = new SseListFilter(rule, era, plan?.answers ?? [])
      return { filter: filter === null ? lists : new ChainedFilter(filter, lists), rewrite: null }
    }
    if (plan === null || (!plan.lists && plan.answers.length === 0)) return { filter, rewrite: null }
    const { answers, batch, lists } = plan
    return {
      filter,
      rewrite: (status, body) => {
        let text = body.toString('utf8')
        if (lists) text = filterJsonBody(text, rule, era)
        if (answers.length === 0) return { status, body: Buffer.from(text, 'utf8') }
        // Only notifications went upstream (202): the answers are the whole response.
        if (status === 202 || text.trim() === '') return { status: 200, body: json(batch ? answers : answers[0]), contentType: 'application/json' }
        let parsed: unknown
        try {
          parsed = JSON.parse(text)
        } catch {
          return { status, body: Buffer.from(text, 'utf8') }
        }
        return { status, body: json([...(Array.isArray(parsed) ? parsed : [parsed]), ...answers]) }
      }
    }
  }

  /** A legacy GET stream with a rule named its session: refusals in it are answered on it. */
  legacyOpened (exchange: UpstreamExchange, gatewayPath: string): void {
    if (exchange.request.gate.rule === null) return
    const q = gatewayPath.indexOf('?')
    const id = q < 0 ? null : legacySession(gatewayPath.slice(q + 1))
    if (id === null) return
    const key = `${exchange.server.id}\n${id}`
    this.#legacy.set(key, exchange)
    exchange.legacyKey = key
  }

  closed (exchange: UpstreamExchange): void {
    const key = exchange.legacyKey
    if (key !== null && this.#legacy.get(key) === exchange) this.#legacy.delete(key)
  }
}
