// Real MCP SDK clients through the gateway to a real SDK server, over Streamable HTTP and legacy
// HTTP+SSE, on both stores: initialize, tools/list, tools/call, progress streamed before the
// result, a server-initiated notification on the GET stream, resources/read, session end → 404.
import t from 'tap'
import type { Test } from 'tap'
import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { CallToolResultSchema, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js'
import type { KeyStore } from '../../core/store/store.ts'
import { connectSse, connectStreamable, createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { startMcpUpstream, type McpUpstream } from '../helpers/mcp-upstream.ts'
import { redisStore, sqliteStore } from '../helpers/stores.ts'

function textOf (result: unknown): string {
  const content = (result as { content: Array<{ type: string, text?: string }> }).content
  return content.map(c => c.text ?? '').join('')
}

function within<T> (p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)
  })
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}

/** Progress must reach the client while the tool is still blocked upstream: nothing buffers. */
async function progressArrivesBeforeResult (t: Test, client: Client, upstream: McpUpstream): Promise<void> {
  let firstProgressAt = 0
  let resultAt = 0
  let progressCount = 0
  let firstProgress!: () => void
  const gotProgress = new Promise<void>(resolve => { firstProgress = resolve })
  const call = client.callTool({ name: 'progress', arguments: { steps: 3 } }, CallToolResultSchema, {
    onprogress: () => {
      progressCount++
      if (firstProgressAt === 0) {
        firstProgressAt = Date.now()
        firstProgress()
      }
    }
  }).then(r => { resultAt = Date.now(); return r })
  await within(gotProgress, 5000, 'the first progress notification')
  t.equal(resultAt, 0, 'the first progress notification arrived while the result was still pending')
  const releasedAt = Date.now()
  upstream.release()
  const result = await within(call, 5000, 'the tool result')
  t.equal(textOf(result), 'done')
  t.ok(firstProgressAt <= releasedAt && releasedAt <= resultAt, 'progress came before the upstream was even allowed to answer')
  t.equal(progressCount, 3, 'every progress notification arrived')
}

async function serverNotificationArrives (t: Test, client: Client, message: string): Promise<void> {
  let received!: (data: unknown) => void
  const notification = new Promise<unknown>(resolve => { received = resolve })
  client.setNotificationHandler(LoggingMessageNotificationSchema, n => { received(n.params.data) })
  const result = await client.callTool({ name: 'notify', arguments: { message } })
  t.equal(textOf(result), 'sent')
  t.equal(await within(notification, 5000, 'the server-initiated notification'), message)
}

async function commonCalls (t: Test, client: Client): Promise<void> {
  const tools = (await client.listTools()).tools.map(x => x.name).sort()
  t.same(tools, ['echo', 'notify', 'progress'], 'tools/list')
  t.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'héllo ✓' } })), 'héllo ✓', 'tools/call')
  const res = await client.readResource({ uri: 'test://greeting' })
  t.equal((res.contents[0] as { text: string }).text, 'hello from upstream', 'resources/read')
}

async function suite (t: Test, store: KeyStore): Promise<void> {
  const upstream = await startMcpUpstream(t)
  const gw = await startGateway(t, {
    store,
    config: testConfig({
      servers: [
        { id: 'streamable', url: upstream.mcpUrl },
        { id: 'legacy', url: upstream.sseUrl }
      ]
    })
  })
  const { key } = await createTestKey(store)

  await t.test('Streamable HTTP', async t => {
    const { client, transport } = await connectStreamable(t, gw.mcpUrl('streamable'), key)
    const sessionId = transport.sessionId
    t.type(sessionId, 'string', 'Mcp-Session-Id passed through on initialize')
    await commonCalls(t, client)
    await progressArrivesBeforeResult(t, client, upstream)
    // The standalone GET stream must be open upstream before a server-initiated message can use it.
    await upstream.waitForRequest(r => r.method === 'GET' && r.url === '/mcp' && r.headers['mcp-session-id'] === sessionId)
    await serverNotificationArrives(t, client, 'streamable-ping')

    await transport.terminateSession()
    const del = upstream.requests.find(r => r.method === 'DELETE' && r.headers['mcp-session-id'] === sessionId)
    t.ok(del, 'DELETE reached the upstream')
    const after = await fetch(gw.mcpUrl('streamable'), {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-session-id': sessionId as string,
        'mcp-protocol-version': '2025-06-18'
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 99, method: 'tools/list' })
    })
    t.equal(after.status, 404, 'the ended session answers 404, passed through verbatim')
    t.equal(((await after.json()) as { error: { message: string } }).error.message, 'Session not found')
  })

  await t.test('legacy HTTP+SSE', async t => {
    const { client } = await connectSse(t, gw.mcpUrl('legacy'), key)
    await commonCalls(t, client)
    await progressArrivesBeforeResult(t, client, upstream)
    await serverNotificationArrives(t, client, 'legacy-ping')
    const posts = upstream.requests.filter(r => r.method === 'POST' && r.url.startsWith('/messages?sessionId='))
    t.ok(posts.length >= 5, 'the client posted to the rewritten endpoint, which the gateway mapped to /messages')
    const sessionId = new URL(posts[0]!.url, 'http://x').searchParams.get('sessionId') as string

    await client.close()
    await upstream.waitForRequest(r => r.method === 'GET' && r.url === '/sse' && r.closedAt !== null)
    const after = await fetch(`${gw.mcpUrl('legacy', 'messages')}?sessionId=${sessionId}`, {
      method: 'POST',
      headers: { 'x-api-key': key, 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' })
    })
    t.equal(after.status, 404, 'a closed legacy session answers 404 through the gateway')
  })
}

t.test('SQLite store', async t => suite(t, await sqliteStore(t)))
t.test('Redis store', async t => suite(t, await redisStore(t)))
