// An MCP session belongs to the key whose request created it (DESIGN: "Sessions"): the same
// Mcp-Session-Id (or legacy SSE sessionId) sent with another key gets what the upstream answers an
// unknown session — 404, JSON-RPC -32001 "Session not found" — and never reaches the upstream; the
// refusal is logged as a warning naming the key, never the session id. A session the gateway never
// saw is refused the same way; DELETE ends the binding with the session.
import t from 'tap'
import { keyHint } from '../../gateway/reply-error.ts'
import { createTestKey, createTestUser, connectSse, connectStreamable, startGateway, testConfig } from '../helpers/gateway.ts'
import { startMcpUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

const LIST_TOOLS = JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/list', params: {} })

t.test('a session is bound to the key that created it', async t => {
  const upstream = await startMcpUpstream(t)
  const store = await sqliteStore(t)
  const gw = await startGateway(t, {
    store,
    config: testConfig({ servers: [{ id: 'up', url: upstream.mcpUrl }, { id: 'legacy', url: upstream.sseUrl }] })
  })
  const owner = await createTestKey(store)
  // Another key of the same user is another key: sessions are per key, not per user.
  const sibling = await createTestKey(store, { user: owner.user })
  const stranger = await createTestKey(store, { user: await createTestUser(store) })

  const a = await connectStreamable(t, gw.mcpUrl('up'), owner.key)
  const session = a.transport.sessionId
  t.ok(session !== undefined && session !== '', 'the upstream handed out a session through the gateway')
  t.equal((await a.client.listTools()).tools.length > 0, true, 'the owner works in its session')

  const post = (key: string, sessionId: string) => fetch(gw.mcpUrl('up'), {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' },
    body: LIST_TOOLS
  })
  const upstreamRequestsBefore = upstream.requests.length
  for (const [who, key] of [['another key of the owner', sibling.key], ['another user\'s key', stranger.key]] as const) {
    const res = await post(key, session as string)
    t.equal(res.status, 404, `${who}: 404`)
    t.same(await res.json(), { jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found', data: { code: 'MCPGATE_SESSION_NOT_FOUND', hint: keyHint(undefined) } } }, `${who}: the answer the upstream gives an unknown session`)
    for (const method of ['GET', 'DELETE']) {
      const other = await fetch(gw.mcpUrl('up'), { method, headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream', 'mcp-session-id': session as string } })
      t.equal(other.status, 404, `${who}: ${method} in the session refused`)
      await other.arrayBuffer()
    }
  }
  t.equal(upstream.requests.length, upstreamRequestsBefore, 'none of the hijack attempts reached the upstream')

  const warnings = gw.logs.lines.map(l => JSON.parse(l) as Record<string, unknown>).filter(l => l.level === 40 && String(l.msg).startsWith('MCP session used with a key other'))
  t.equal(warnings.length, 6, 'one warning per refused request')
  t.same(warnings.map(w => w.keyId), [sibling.keyId, sibling.keyId, sibling.keyId, stranger.keyId, stranger.keyId, stranger.keyId], 'naming the key that tried')
  t.notOk(gw.logs.text().includes(session as string), 'the session id itself is never logged')

  const unknown = await post(owner.key, 'not-a-session-the-gateway-saw')
  t.equal(unknown.status, 404, 'a session the gateway never saw: 404 too')
  await unknown.arrayBuffer()

  const echoed = await a.client.callTool({ name: 'echo', arguments: { text: 'still mine' } }) as { content: Array<{ text?: string }> }
  t.equal(echoed.content[0]?.text, 'still mine', 'the owner\'s session is untouched')

  // DELETE ends the session upstream and its binding here.
  await a.transport.terminateSession()
  const after = await post(owner.key, session as string)
  t.equal(after.status, 404, 'after DELETE the id is unknown')
  await after.arrayBuffer()
})

t.test('a legacy SSE session is bound to the key that opened the stream', async t => {
  const upstream = await startMcpUpstream(t)
  const store = await sqliteStore(t)
  const gw = await startGateway(t, { store, config: testConfig({ servers: [{ id: 'legacy', url: upstream.sseUrl }] }) })
  const owner = await createTestKey(store)
  const stranger = await createTestKey(store)

  const a = await connectSse(t, gw.mcpUrl('legacy'), owner.key)
  await a.client.listTools()
  const posted = upstream.requests.find(r => r.method === 'POST' && r.url.startsWith('/messages?'))
  const sessionId = new URL(posted?.url ?? '/', 'http://x').searchParams.get('sessionId')
  t.ok(sessionId, 'the owner posted in its legacy session')

  const before = upstream.requests.length
  const hijack = await fetch(gw.mcpUrl('legacy', `messages?sessionId=${sessionId}`), {
    method: 'POST',
    headers: { 'x-api-key': stranger.key, 'content-type': 'application/json' },
    body: LIST_TOOLS
  })
  t.equal(hijack.status, 404, 'another key posting into the session: 404')
  t.equal(((await hijack.json()) as { error: { code: number } }).error.code, -32001)
  t.equal(upstream.requests.length, before, 'not forwarded')
  t.equal((await a.client.listTools()).tools.length > 0, true, 'the owner keeps working')
})
