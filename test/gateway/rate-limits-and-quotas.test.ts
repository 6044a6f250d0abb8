// Rate limits and tool-call quotas (DESIGN: "Lifecycle"), on the injected clock: past a key's
// requests a minute → 429 MCPGATE_RATE_LIMITED with Retry-After and the IETF RateLimit fields,
// and the next minute lets it in again; a per-user total caps the user's keys together; past a
// tool-call quota the call is answered as a tool error (CallToolResult isError) naming the quota
// and its reset — never reaching the upstream — while other methods go on working.
import t from 'tap'
import { ManualClock } from '../../core/clock.ts'
import { connectStreamable, createTestKey, createTestUser, startGateway, testConfig } from '../helpers/gateway.ts'
import { startMcpUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

t.test('requests a minute, per key and per user; tool calls a day', async t => {
  const clock = new ManualClock(Date.parse('2027-02-01T10:00:30Z'))
  const upstream = await startMcpUpstream(t)
  const store = await sqliteStore(t, { clock })
  const gw = await startGateway(t, {
    store,
    clock,
    config: testConfig({ gateway: { shutdownGraceMs: 100, limits: { perUser: { requestsPerMinute: 10 } } }, servers: [{ id: 'up', url: upstream.mcpUrl }] })
  })
  const send = async (key: string) => {
    const res = await fetch(gw.mcpUrl('up'), {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } })
    })
    const text = await res.text()
    return { status: res.status, headers: res.headers, text }
  }

  const limited = await createTestKey(store, { clock, limits: { requestsPerMinute: 5 } })
  const statuses = []
  for (let i = 0; i < 7; i++) statuses.push((await send(limited.key)).status)
  t.same(statuses, [200, 200, 200, 200, 200, 429, 429], 'five a minute, then 429')
  const refused = await send(limited.key)
  t.equal(refused.headers.get('retry-after'), '30', 'Retry-After: the seconds left in the minute')
  t.equal(refused.headers.get('ratelimit-policy'), '"key-minute";q=5;w=60')
  t.equal(refused.headers.get('ratelimit'), '"key-minute";r=0;t=30')
  const body = JSON.parse(refused.text) as { error: { data: { code: string }, message: string } }
  t.equal(body.error.data.code, 'MCPGATE_RATE_LIMITED')
  t.match(body.error.message, /5 requests a minute for this API key.*resets at 2027-02-01T10:01:00/)
  clock.advance(30_000)
  t.equal((await send(limited.key)).status, 200, 'the next minute: allowed again')

  // A user's total (10 a minute) across two keys without limits of their own.
  const user = await createTestUser(store)
  const a = await createTestKey(store, { clock, user })
  const b = await createTestKey(store, { clock, user })
  const both = []
  for (let i = 0; i < 6; i++) both.push((await send(a.key)).status, (await send(b.key)).status)
  t.equal(both.filter(s => s === 200).length, 10, 'two keys of one user: 10 together')
  t.match((await send(a.key)).text, /10 requests a minute for the key's owner/, 'naming whose limit')

  // Tool calls a day: the third is answered as a tool error, the upstream never sees it.
  const quota = await createTestKey(store, { clock, limits: { toolCallsPerDay: 2 } })
  const { client } = await connectStreamable(t, gw.mcpUrl('up'), quota.key)
  for (let i = 0; i < 2; i++) t.same((await client.callTool({ name: 'echo', arguments: { text: `call ${i}` } })).isError, undefined, `call ${i + 1} runs`)
  const before = upstream.requests.length
  const third = await client.callTool({ name: 'echo', arguments: { text: 'one too many' } }) as { isError?: boolean, content: Array<{ text: string }> }
  t.equal(third.isError, true, 'the third: a tool error the client shows')
  t.match(third.content[0]?.text, /"echo" was not made: the limit of 2 tool calls a day for this API key is reached; it resets at 2027-02-02T00:00:00/)
  t.equal(upstream.requests.length, before, 'it never reached the upstream')
  t.ok((await client.listTools()).tools.length > 0, 'other methods go on working')
  clock.advance(14 * 3600_000)
  t.same((await client.callTool({ name: 'echo', arguments: { text: 'tomorrow' } })).content, [{ type: 'text', text: 'tomorrow' }], 'the next day: calls again')
})
