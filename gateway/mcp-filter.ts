// Per-tool enforcement on the wire, for requests with a rule (tool-rules.ts); pure functions, no
// I/O. Requests: the JSON-RPC body is read (bounded) and every call of a tool, prompt or resource
// the rule does not allow is answered here — HTTP 200 and JSON-RPC -32602 "Unknown tool: <name>",
// what the upstream says of a tool that does not exist — and never forwarded; a batch (2025-03-26)
// is checked element by element. MCP 2026-07-28 puts the method and name in headers too
// (Mcp-Method, Mcp-Name): they must match the body, else 400. Responses: every list result
// (tools, prompts, resources, resource templates) is filtered, whatever request it answers (the
// result's shape tells: no per-session tracking, so it works on a legacy SSE stream whose answers
// arrive on another connection, and on every replica).
import { allows, type EffectiveRule, type ScopeKind } from '../core/tool-scope.ts'

/** JSON-RPC invalid params: the answer for a tool, prompt or resource outside the rule. */
export const INVALID_PARAMS = -32602

export type JsonRpcId = string | number | null

interface Message {
  jsonrpc?: unknown
  id?: unknown
  method?: unknown
  params?: unknown
  result?: unknown
}

/** What a request body holds, once the rule has looked at it. */
export type Inspection =
  | {
    ok: true
    /** The bytes to send upstream: the original when all passes, the allowed part of a batch, or null: nothing left. */
    forward: Buffer | null
    /** Answers the gateway gives itself (refused calls), as JSON-RPC response objects. */
    answers: object[]
    /** The body was a batch: answers go back in an array. */
    batch: boolean
    /** A list may be in the answer: the response body must go through the list filter. */
    lists: boolean
    /** Each message, for the audit trail. */
    calls: McpCall[]
  }
  | { ok: false, error: 'parse' | 'invalid' | 'header', message: string }

/** One JSON-RPC message of a request, as the audit trail records it. */
export interface McpCall {
  method: string
  /** Tool or prompt name, or resource URI. */
  name?: string
  /** Answered by the gateway: outside the tool rule (-32602), or past the tool-call quota. */
  refused?: 'scope' | 'quota'
  /** tools/call arguments (only kept for servers that audit them). */
  arguments?: unknown
}

/** The calls a rule decides, and where their name is. */
const CALLS: Readonly<Record<string, { kind: ScopeKind, what: string, name: (params: Record<string, unknown>) => unknown }>> = {
  'tools/call': { kind: 'tools', what: 'tool', name: p => p.name },
  'prompts/get': { kind: 'prompts', what: 'prompt', name: p => p.name },
  'resources/read': { kind: 'resources', what: 'resource', name: p => p.uri },
  'resources/subscribe': { kind: 'resources', what: 'resource', name: p => p.uri },
  'resources/unsubscribe': { kind: 'resources', what: 'resource', name: p => p.uri }
}

const LISTS = new Set(['tools/list', 'prompts/list', 'resources/list', 'resources/templates/list'])

function paramsOf (m: Message): Record<string, unknown> {
  return typeof m.params === 'object' && m.params !== null && !Array.isArray(m.params) ? m.params as Record<string, unknown> : {}
}

/** `completion/complete` names a prompt or a resource template in `ref`. */
function completionTarget (params: Record<string, unknown>): { kind: ScopeKind, what: string, name: unknown } | null {
  const ref = params.ref
  if (typeof ref !== 'object' || ref === null) return null
  const r = ref as Record<string, unknown>
  if (r.type === 'ref/prompt') return { kind: 'prompts', what: 'prompt', name: r.name }
  if (r.type === 'ref/resource') return { kind: 'resources', what: 'resource', name: r.uri }
  return null
}

/** The refusal of one message, or null when the rule allows it (or it is no call the rule decides). */
function refusal (m: Message, rule: EffectiveRule): { what: string, name: string } | null {
  if (typeof m.method !== 'string') return null
  const params = paramsOf(m)
  const call = CALLS[m.method]
  const target = call !== undefined ? { kind: call.kind, what: call.what, name: call.name(params) } : m.method === 'completion/complete' ? completionTarget(params) : null
  // A name that is no string names nothing the rule could allow; the upstream refuses it as invalid.
  if (target === null || typeof target.name !== 'string') return null
  return allows(rule, target.kind, target.name) ? null : { what: target.what, name: target.name }
}

function errorAnswer (id: unknown, code: number, message: string): object {
  return { jsonrpc: '2.0', id: id ?? null, error: { code, message } }
}

/** `=?base64?…?=` (MCP 2026-07-28 for values that are not plain ASCII) decoded; others as they are. */
function headerValue (value: string): string {
  const m = /^=\?base64\?(.*)\?=$/.exec(value)
  return m === null ? value : Buffer.from(m[1] ?? '', 'base64').toString('utf8')
}

/** The name a request carries (2026-07-28: in Mcp-Name too): params.name, or params.uri for resources. */
function bodyName (m: Message): unknown {
  const params = paramsOf(m)
  if (m.method === 'resources/read' || m.method === 'resources/subscribe' || m.method === 'resources/unsubscribe') return params.uri
  if (m.method === 'tools/call' || m.method === 'prompts/get') return params.name
  return undefined
}

export interface EraHeaders {
  /** MCP-Protocol-Version. */
  version: string | undefined
  method: string | undefined
  name: string | undefined
}

/** True from MCP 2026-07-28 on: requests carry Mcp-Method / Mcp-Name, results may carry cacheScope. */
export function headerEra (version: string | undefined): boolean {
  return version !== undefined && version >= '2026-07-28'
}

/** Tool calls a quota still allows in this request, and the answer for those past it. */
export interface CallBudget {
  allowed: number
  answer: (id: unknown, name: string) => object
}

/** A rule that allows everything (a request read for its quota alone). */
export const ALLOW_ALL: EffectiveRule = Object.freeze({ tools: [], resources: [], prompts: [] })

/** Reads a request body under `rule` (and, given, a tool-call budget: the calls past it are answered here too). */
export function inspectRequest (body: Buffer, rule: EffectiveRule, era: EraHeaders, budget?: CallBudget): Inspection {
  let parsed: unknown
  try {
    parsed = JSON.parse(body.toString('utf8'))
  } catch {
    return { ok: false, error: 'parse', message: 'the request body is not JSON' }
  }
  const batch = Array.isArray(parsed)
  const messages = (batch ? parsed : [parsed]) as unknown[]
  if (messages.length === 0 || messages.some(m => typeof m !== 'object' || m === null || Array.isArray(m))) {
    return { ok: false, error: 'invalid', message: 'not a JSON-RPC message' }
  }
  if (headerEra(era.version) && !batch) {
    // SEP-2243: the headers mirror the body; never trust one without the other.
    const m = messages[0] as Message
    if (typeof m.method === 'string') {
      if (era.method !== m.method) return { ok: false, error: 'header', message: `Mcp-Method "${era.method ?? ''}" does not match the body's method "${m.method}"` }
      const name = bodyName(m)
      if (typeof name === 'string' && (era.name === undefined || headerValue(era.name) !== name)) {
        return { ok: false, error: 'header', message: 'Mcp-Name does not match the body' }
      }
    }
  }
  const answers: object[] = []
  const allowed: unknown[] = []
  const calls: McpCall[] = []
  let lists = false
  let budgetLeft = budget?.allowed ?? Infinity
  for (const raw of messages) {
    const m = raw as Message
    const refused = refusal(m, rule)
    const call = callOf(m)
    if (refused === null && call?.method === 'tools/call' && budget !== undefined) {
      if (budgetLeft <= 0) {
        calls.push({ ...call, refused: 'quota' })
        if (m.id !== undefined) answers.push(budget.answer(m.id, call.name ?? ''))
        continue
      }
      budgetLeft--
    }
    if (call !== null) calls.push(refused === null ? call : { ...call, refused: 'scope' })
    if (refused === null) {
      allowed.push(raw)
      if (typeof m.method === 'string' && LISTS.has(m.method)) lists = true
      continue
    }
    // A notification (no id) gets no answer; it is dropped all the same.
    if (m.id !== undefined) answers.push(errorAnswer(m.id, INVALID_PARAMS, `Unknown ${refused.what}: ${refused.name}`))
  }
  let forward: Buffer | null
  if (allowed.length === messages.length) forward = body
  else if (allowed.length === 0) forward = null
  else forward = Buffer.from(JSON.stringify(allowed), 'utf8')
  return { ok: true, forward, answers, batch, lists, calls }
}

/** The method and name of a message (requests and notifications; responses have no method). */
function callOf (m: Message): McpCall | null {
  if (typeof m.method !== 'string') return null
  const name = bodyName(m)
  const call: McpCall = typeof name === 'string' ? { method: m.method, name } : { method: m.method }
  if (m.method === 'tools/call') {
    const args = paramsOf(m).arguments
    if (args !== undefined) call.arguments = args
  }
  return call
}

/** What a request body holds, for the audit trail of a request no rule reads: [] when it is not JSON-RPC. */
export function describeRequest (body: Buffer): McpCall[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(body.toString('utf8'))
  } catch {
    return []
  }
  const calls: McpCall[] = []
  for (const m of Array.isArray(parsed) ? parsed : [parsed]) {
    if (typeof m !== 'object' || m === null) continue
    const call = callOf(m as Message)
    if (call !== null) calls.push(call)
  }
  return calls
}

/** The list keys a result may carry, the kind their entries are checked against, and the entry's name field. */
const LIST_FIELDS: ReadonlyArray<{ field: string, kind: ScopeKind, name: string }> = [
  { field: 'tools', kind: 'tools', name: 'name' },
  { field: 'prompts', kind: 'prompts', name: 'name' },
  { field: 'resources', kind: 'resources', name: 'uri' },
  { field: 'resourceTemplates', kind: 'resources', name: 'uriTemplate' }
]

/** Cheap look before a parse: could this JSON text hold a list result at all? */
export function mayHoldList (text: string): boolean {
  return text.includes('"result"') && (text.includes('"tools"') || text.includes('"prompts"') || text.includes('"resources"') || text.includes('"resourceTemplates"'))
}

/**
 * Filters the list results in a JSON-RPC message or batch (parsed) in place. Returns true when it
 * changed anything a client sees (entries removed or cacheScope set).
 */
export function filterLists (value: unknown, rule: EffectiveRule, era: boolean): boolean {
  if (Array.isArray(value)) {
    let changed = false
    for (const m of value) if (filterLists(m, rule, era)) changed = true
    return changed
  }
  if (typeof value !== 'object' || value === null) return false
  const result = (value as Message).result
  if (typeof result !== 'object' || result === null || Array.isArray(result)) return false
  const r = result as Record<string, unknown>
  let filtered = false
  for (const { field, kind, name } of LIST_FIELDS) {
    const list = r[field]
    if (!Array.isArray(list)) continue
    filtered = true
    r[field] = list.filter(entry => {
      const n = typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>)[name] : undefined
      return typeof n === 'string' && allows(rule, kind, n)
    })
  }
  if (!filtered) return false
  // The result now depends on who asked (2026-07-28 caching): no shared cache may keep it.
  if (era || 'cacheScope' in r) r.cacheScope = 'private'
  return true
}

/** A JSON body's text with its list results filtered; the same text when nothing changed. */
export function filterJsonBody (text: string, rule: EffectiveRule, era: boolean): string {
  if (!mayHoldList(text)) return text
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return text
  }
  return filterLists(parsed, rule, era) ? JSON.stringify(parsed) : text
}
