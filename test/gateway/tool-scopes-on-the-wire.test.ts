// Per-tool scopes, on the wire, against a hand-built upstream: a JSON-RPC batch (2025-03-26) is
// checked element by element (allowed calls forwarded, refused ones answered in the same batch
// answer, a batch of refusals answered without the upstream); list results are filtered in JSON
// and in event-stream answers, pages and their cursors kept; MCP 2026-07-28 headers must mirror
// the body (400, -32020) and filtered results are marked cacheScope "private"; a body that is not
// JSON gets 400 -32700 — for a key with a rule. A key without one: bytes pass untouched.
import type { IncomingMessage, ServerResponse } from 'node:http'
import t from 'tap'
import { createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

interface Rpc { jsonrpc: '2.0', id?: number | string, method: string, params?: Record<string, unknown> }

const ALL = Array.from({ length: 30 }, (_, i) => `tool_${String(i).padStart(2, '0')}`).concat(['search_a', 'search_b'])
const PAGE = 10

/** The answer of the hand-built server to one message (lists paginated by cursor = offset). */
function answer (m: Rpc, era2026: boolean): object | null {
  if (m.id === undefined) return null
  if (m.method === 'tools/list') {
    const from = Number(m.params?.cursor ?? 0)
    const tools = ALL.slice(from, from + PAGE).map(name => ({ name, inputSchema: { type: 'object' } }))
    const next = from + PAGE < ALL.length ? { nextCursor: String(from + PAGE) } : {}
    return { jsonrpc: '2.0', id: m.id, result: { tools, ...next, ...(era2026 ? { resultType: 'complete', ttlMs: 60000, cacheScope: 'public' } : {}) } }
  }
  if (m.method === 'tools/call') return { jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: `ran ${String(m.params?.name)}` }] } }
  return { jsonrpc: '2.0', id: m.id, result: {} }
}

t.test('batches, lists, pages, SSE answers and 2026-07-28 headers under a tool scope', async t => {
  const seen: unknown[] = []
  const upstream = await startRawUpstream(t, async (req: IncomingMessage, res: ServerResponse, rec) => {
    const body = JSON.parse(rec.body) as Rpc | Rpc[]
    seen.push(body)
    const era = req.headers['mcp-protocol-version'] === '2026-07-28'
    const messages = Array.isArray(body) ? body : [body]
    const answers = messages.map(m => answer(m, era)).filter(a => a !== null)
    if (answers.length === 0) {
      res.writeHead(202).end()
      return
    }
    if ((req.headers.accept ?? '').includes('text/event-stream') && new URL(req.url ?? '/', 'http://x').searchParams.has('sse')) {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      // One answer split across writes mid-event, as networks do.
      const text = answers.map(a => `event: message\nid: e1\ndata: ${JSON.stringify(a)}\n\n`).join('')
      res.write(text.slice(0, 37))
      res.end(text.slice(37))
      return
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify(Array.isArray(body) ? answers : answers[0]))
  }, { readBody: true })
  const store = await sqliteStore(t)
  const gw = await startGateway(t, { store, config: testConfig({ servers: [{ id: 'up', url: `${upstream.origin}/mcp` }] }) })
  const scoped = await createTestKey(store, { scopes: { up: { tools: ['search_*', 'tool_0*'] } } })
  const open = await createTestKey(store)
  const post = async (key: string, body: unknown, headers: Record<string, string> = {}, query = '') => {
    const res = await fetch(gw.mcpUrl('up') + query, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body)
    })
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() }
  }
  const call = (id: number, name: string): Rpc => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {} } })

  await t.test('a batch is checked element by element', async t => {
    seen.length = 0
    const r = await post(scoped.key, [call(1, 'search_a'), call(2, 'tool_15'), { jsonrpc: '2.0', method: 'notifications/progress', params: {} }, call(3, 'tool_03')])
    t.equal(r.status, 200)
    const answers = JSON.parse(r.text) as Array<{ id: number, result?: unknown, error?: { code: number, message: string } }>
    t.same(answers.map(a => a.id).sort(), [1, 2, 3], 'one answer per request in the batch')
    t.same(answers.find(a => a.id === 2)?.error, { code: -32602, message: 'Unknown tool: tool_15' }, 'the refused element answered by the gateway')
    t.ok(answers.find(a => a.id === 1)?.result !== undefined && answers.find(a => a.id === 3)?.result !== undefined, 'the allowed ones by the upstream')
    t.same((seen[0] as Rpc[]).map(m => m.id ?? 'notification'), [1, 'notification', 3], 'only the allowed elements were forwarded')

    seen.length = 0
    const refused = await post(scoped.key, [call(4, 'tool_20'), call(5, 'tool_21')])
    t.equal(refused.status, 200)
    t.same(JSON.parse(refused.text), [{ jsonrpc: '2.0', id: 4, error: { code: -32602, message: 'Unknown tool: tool_20' } }, { jsonrpc: '2.0', id: 5, error: { code: -32602, message: 'Unknown tool: tool_21' } }], 'all refused: answered here')
    t.equal(seen.length, 0, 'nothing forwarded')

    const notesOnly = await post(scoped.key, [call(6, 'tool_22'), { jsonrpc: '2.0', method: 'notifications/cancelled', params: {} }])
    t.equal(notesOnly.status, 200, 'the upstream\'s 202 for the notification becomes the answer to the refused call')
    t.same(JSON.parse(notesOnly.text), [{ jsonrpc: '2.0', id: 6, error: { code: -32602, message: 'Unknown tool: tool_22' } }])
  })

  await t.test('lists are filtered page by page; cursors pass', async t => {
    const names: string[] = []
    let cursor: string | undefined
    let pages = 0
    do {
      const r = await post(scoped.key, { jsonrpc: '2.0', id: 10 + pages, method: 'tools/list', params: cursor === undefined ? {} : { cursor } })
      const result = (JSON.parse(r.text) as { result: { tools: Array<{ name: string }>, nextCursor?: string } }).result
      names.push(...result.tools.map(x => x.name))
      cursor = result.nextCursor
      pages++
    } while (cursor !== undefined)
    t.equal(pages, 4, 'every page of the upstream, cursors untouched (a page may come back empty)')
    t.same(names, ['tool_00', 'tool_01', 'tool_02', 'tool_03', 'tool_04', 'tool_05', 'tool_06', 'tool_07', 'tool_08', 'tool_09', 'search_a', 'search_b'], 'only what the rule allows')

    const sse = await post(scoped.key, { jsonrpc: '2.0', id: 20, method: 'tools/list', params: { cursor: '30' } }, {}, '?sse')
    t.match(sse.type, /^text\/event-stream/)
    t.match(sse.text, /^event: message\nid: e1\ndata: /, 'the event keeps its other fields')
    const data = JSON.parse(sse.text.split('data: ')[1] ?? '') as { result: { tools: Array<{ name: string }> } }
    t.same(data.result.tools.map(x => x.name), ['search_a', 'search_b'], 'an event-stream answer is filtered too, split mid-event')

    const unscoped = await post(open.key, { jsonrpc: '2.0', id: 21, method: 'tools/list', params: {} })
    t.equal((JSON.parse(unscoped.text) as { result: { tools: unknown[] } }).result.tools.length, PAGE, 'a key without scopes: the page as the upstream sent it')
  })

  await t.test('MCP 2026-07-28: headers must mirror the body; filtered results are private', async t => {
    const era = { 'mcp-protocol-version': '2026-07-28' }
    const ok = await post(scoped.key, call(30, 'search_b'), { ...era, 'mcp-method': 'tools/call', 'mcp-name': 'search_b' })
    t.equal(ok.status, 200, 'matching headers pass')
    const encoded = await post(scoped.key, call(31, 'search_b'), { ...era, 'mcp-method': 'tools/call', 'mcp-name': `=?base64?${Buffer.from('search_b').toString('base64')}?=` })
    t.equal(encoded.status, 200, 'a base64-encoded Mcp-Name is decoded')
    for (const [what, headers] of [
      ['another method', { 'mcp-method': 'tools/list', 'mcp-name': 'search_b' }],
      ['another name', { 'mcp-method': 'tools/call', 'mcp-name': 'search_a' }],
      ['a missing name', { 'mcp-method': 'tools/call' }],
      ['a missing method', { 'mcp-name': 'search_b' }]
    ] as const) {
      const r = await post(scoped.key, call(32, 'search_b'), { ...era, ...headers })
      t.equal(r.status, 400, `${what}: 400`)
      t.equal((JSON.parse(r.text) as { error: { code: number } }).error.code, -32020, `${what}: -32020 HeaderMismatch`)
    }
    const list = await post(scoped.key, { jsonrpc: '2.0', id: 33, method: 'tools/list', params: {} }, { ...era, 'mcp-method': 'tools/list' })
    const result = (JSON.parse(list.text) as { result: { cacheScope: string, ttlMs: number } }).result
    t.equal(result.cacheScope, 'private', 'a filtered list is marked private')
    t.equal(result.ttlMs, 60000, 'the rest of the result is kept')
  })

  await t.test('a body that is not JSON: 400 -32700, for a key with a rule', async t => {
    const r = await post(scoped.key, '{"jsonrpc":"2.0", oops')
    t.equal(r.status, 400)
    t.equal((JSON.parse(r.text) as { error: { code: number, data: { code: string } } }).error.code, -32700)
    const plain = await post(open.key, '{"jsonrpc":"2.0", oops')
    t.equal(plain.status, 502, 'a key without a rule: the bytes went to the upstream, which hung up on them')
  })
})
