// Every open exchange belongs to the key that opened it (DESIGN: "Streams"): when the key is
// deleted, its owner disabled or moved out of the server's access rule, or the server removed
// from the config, the key's open Streamable HTTP GET stream, a POST's SSE answer, a legacy SSE
// stream and a call still waiting for its answer all end — SSE with a clean end, the waiting call
// with the answer a new request would get — the upstream request is aborted, and one log line
// per cut names the key, the server and the reason. Other keys' streams are untouched.
import t, { type Test } from 'tap'
import { createTestKey, createTestUser, startGateway, testConfig } from '../helpers/gateway.ts'
import { initSession, MCP_ACCEPT, openStream } from '../helpers/mcp-raw.ts'
import { startMcpUpstream, startRawUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

const PROGRESS_CALL = JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'progress', arguments: { steps: 1 }, _meta: { progressToken: 'p1' } } })

async function setup (t: Test) {
  const upstream = await startMcpUpstream(t)
  // An upstream that never answers: a call that is still waiting for its response headers.
  const silent = await startRawUpstream(t, () => {})
  const store = await sqliteStore(t)
  const servers = [
    { id: 'up', url: upstream.mcpUrl },
    { id: 'legacy', url: upstream.sseUrl },
    { id: 'silent', url: `${silent.origin}/mcp` },
    { id: 'team', url: upstream.mcpUrl, access: { groups: ['team'] } }
  ]
  // The silent upstream never answers: a short drain at teardown.
  const gw = await startGateway(t, { store, config: testConfig({ gateway: { shutdownGraceMs: 200 }, servers }) })
  return { upstream, silent, store, gw, servers }
}

/** The four kinds of open exchange, all opened with `key`. */
async function openAll (gw: Awaited<ReturnType<typeof setup>>['gw'], upstream: Awaited<ReturnType<typeof setup>>['upstream'], key: string, serverId = 'up') {
  const session = await initSession(gw.mcpUrl(serverId), key)
  const getStream = await openStream(gw.mcpUrl(serverId), { method: 'GET', headers: { ...session.headers, accept: 'text/event-stream' } })
  const postStream = await openStream(gw.mcpUrl(serverId), { method: 'POST', headers: session.headers, body: PROGRESS_CALL })
  await postStream.waitFor(/notifications\/progress/)
  const legacy = await openStream(gw.mcpUrl('legacy'), { method: 'GET', headers: { 'x-api-key': key, accept: 'text/event-stream' } })
  await legacy.waitFor(/event: endpoint/)
  const waiting = fetch(gw.mcpUrl('silent'), { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: MCP_ACCEPT }, body: PROGRESS_CALL })
  // Cut at teardown when nothing else ends it.
  waiting.catch(() => {})
  return { session, getStream, postStream, legacy, waiting }
}

t.test('deleting a key ends all its open exchanges, and only its', async t => {
  const { upstream, silent, store, gw } = await setup(t)
  const doomed = await createTestKey(store)
  const bystander = await createTestKey(store, { user: doomed.user })
  const open = await openAll(gw, upstream, doomed.key)
  const other = await openAll(gw, upstream, bystander.key)
  for (const s of [open.getStream, open.postStream, open.legacy]) t.equal(s.status, 200, 'stream open')
  await silent.waitForRequest(() => silent.requests.length === 2)
  t.equal(gw.app.mcpgate.revocation.size, 8, 'eight open exchanges filed under two keys')

  const upstreamGet = upstream.requests.find(r => r.method === 'GET' && r.headers['mcp-session-id'] === open.session.sessionId)
  t.ok(upstreamGet, 'the GET stream reached the upstream')
  await store.deleteKey(doomed.keyId)

  t.equal(await open.getStream.ended(), 'end', 'the GET stream ended cleanly')
  t.equal(await open.postStream.ended(), 'end', 'the POST\'s SSE answer ended cleanly')
  t.notMatch(open.postStream.text(), /"result"/, '…before its result')
  t.equal(await open.legacy.ended(), 'end', 'the legacy SSE stream ended cleanly')
  const waiting = await open.waiting
  t.equal(waiting.status, 401, 'the waiting call is answered as a new request would be')
  t.equal(((await waiting.json()) as { error: { data: { code: string } } }).error.data.code, 'MCPGATE_KEY_INVALID')
  await upstreamGet?.closed
  await silent.requests[0]?.closed
  t.pass('the upstream requests of the GET stream and of the waiting call were aborted')

  t.equal(await other.getStream.ended(200), 'timeout', 'another key\'s GET stream stays open')
  t.equal(await other.legacy.ended(200), 'timeout', 'another key\'s legacy stream stays open')
  t.equal(gw.app.mcpgate.revocation.size, 4, 'the bystander\'s four remain')

  const cuts = gw.logs.lines.map(l => JSON.parse(l) as Record<string, unknown>).filter(l => l.msg === 'open exchange ended: its key may no longer reach this server')
  t.equal(cuts.length, 4, 'one line per cut')
  t.ok(cuts.every(c => c.keyId === doomed.keyId && c.reason === 'key_deleted'), 'naming the key and the reason')
  t.same(cuts.map(c => c.serverId).sort(), ['legacy', 'silent', 'up', 'up'])
  const metrics = await (await fetch(`${gw.url}/metrics`)).text()
  t.match(metrics, /mcpgate_exchanges_cut_total\{server="up",reason="key_deleted"\} 2/, 'counted in a metric')
  for (const s of [other.getStream, other.postStream, other.legacy]) s.close()
  upstream.release()
})

t.test('disabling the owner ends the key\'s streams', async t => {
  const { upstream, store, gw } = await setup(t)
  const key = await createTestKey(store)
  const open = await openAll(gw, upstream, key.key)
  await store.updateUser(key.user.id, { disabled: true })
  t.equal(await open.getStream.ended(), 'end', 'GET stream ended')
  t.equal(await open.legacy.ended(), 'end', 'legacy stream ended')
  t.equal((await open.waiting).status, 401, 'the waiting call: 401 owner disabled')
  t.match(gw.logs.text(), /"reason":"owner_disabled"/)
})

t.test('the owner leaving the group that let it reach a server ends that server\'s streams only', async t => {
  const { store, gw } = await setup(t)
  const user = await createTestUser(store, { groups: ['team'] })
  const key = await createTestKey(store, { user })
  const session = await initSession(gw.mcpUrl('team'), key.key)
  const teamStream = await openStream(gw.mcpUrl('team'), { method: 'GET', headers: { ...session.headers, accept: 'text/event-stream' } })
  const legacy = await openStream(gw.mcpUrl('legacy'), { method: 'GET', headers: { 'x-api-key': key.key, accept: 'text/event-stream' } })
  await legacy.waitFor(/event: endpoint/)
  t.equal(teamStream.status, 200)
  await store.updateUser(user.id, { groups: [] })
  t.equal(await teamStream.ended(), 'end', 'the team server\'s stream ended')
  t.equal(await legacy.ended(200), 'timeout', 'a server everyone may reach stays open')
  t.match(gw.logs.text(), /"reason":"access_lost"/)
  legacy.close()
})

t.test('a config reload that removes a server or changes its access ends the streams it no longer allows', async t => {
  const { upstream, store, gw, servers } = await setup(t)
  const key = await createTestKey(store)
  const session = await initSession(gw.mcpUrl('up'), key.key)
  const upStream = await openStream(gw.mcpUrl('up'), { method: 'GET', headers: { ...session.headers, accept: 'text/event-stream' } })
  const legacy = await openStream(gw.mcpUrl('legacy'), { method: 'GET', headers: { 'x-api-key': key.key, accept: 'text/event-stream' } })
  await legacy.waitFor(/event: endpoint/)

  // `legacy` now for admins only; `up` unchanged.
  gw.app.mcpgate.reload(testConfig({ gateway: { shutdownGraceMs: 200 }, servers: servers.map(s => s.id === 'legacy' ? { ...s, access: { roles: ['admin'] } } : s) }))
  t.equal(await legacy.ended(), 'end', 'access rule changed: the legacy stream ended')
  t.equal(await upStream.ended(200), 'timeout', 'the unchanged server\'s stream stays')

  gw.app.mcpgate.reload(testConfig({ gateway: { shutdownGraceMs: 200 }, servers: servers.filter(s => s.id !== 'up') }))
  t.equal(await upStream.ended(), 'end', 'server removed: its stream ended')
  const reasons = gw.logs.lines.map(l => JSON.parse(l) as Record<string, unknown>).filter(l => l.reason !== undefined).map(l => l.reason)
  t.same(reasons, ['access_lost', 'server_removed'])
  upstream.release()
})
