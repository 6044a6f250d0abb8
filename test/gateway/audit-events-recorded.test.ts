// The audit trail (DESIGN: "Audit"): one event per MCP request — per message of a batch — and per
// refusal, with the method and name from the JSON-RPC body, the outcome (allowed, denied, error)
// and the MCPGATE_* code, the key and owner, the server, sizes and timing, a digest of the
// session (never its id); never a key or a secret; tool arguments only for a server that opts
// in, with secret-looking names redacted. Real SDK clients, a real SQLite store.
import t from 'tap'
import type { AuditEvent } from '../../core/audit.ts'
import { checksumOf } from '../../core/key-format.ts'
import { TOOL_NOT_ALLOWED } from '../../gateway/audit.ts'
import { connectStreamable, createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { startCatalogUpstream } from '../helpers/mcp-catalog-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

t.test('calls, refusals and batches each leave their event', async t => {
  const upstream = await startCatalogUpstream(t)
  const store = await sqliteStore(t)
  const gw = await startGateway(t, {
    store,
    config: testConfig({
      gateway: { shutdownGraceMs: 100 },
      servers: [
        { id: 'catalog', url: upstream.mcpUrl },
        { id: 'audited', url: upstream.mcpUrl, audit: { arguments: true, redact: ['token'] } }
      ]
    })
  })
  const key = await createTestKey(store, { scopes: { catalog: { tools: ['search_*'] } } })
  const { client, transport } = await connectStreamable(t, gw.mcpUrl('catalog'), key.key)
  await client.listTools()
  await client.callTool({ name: 'search_code', arguments: { text: 'x' } })
  await client.callTool({ name: 'delete_repo', arguments: {} }).catch(() => {})
  const session = transport.sessionId as string

  // A batch (2025-03-26): one event per element.
  const batch = await fetch(gw.mcpUrl('catalog'), {
    method: 'POST',
    headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': session, 'mcp-protocol-version': '2025-03-26' },
    body: JSON.stringify([{ jsonrpc: '2.0', id: 91, method: 'tools/call', params: { name: 'run_workflow', arguments: {} } }, { jsonrpc: '2.0', id: 92, method: 'tools/call', params: { name: 'merge_pr', arguments: {} } }])
  })
  await batch.arrayBuffer()

  // A refusal before any body is read: a wrong secret for the same keyId.
  const wrongBody = key.key.slice(0, key.key.length - key.secret.length) + 'w'.repeat(40)
  const wrong = await fetch(gw.mcpUrl('catalog'), { method: 'POST', headers: { authorization: `Bearer ${wrongBody + checksumOf(wrongBody)}`, 'content-type': 'application/json', 'user-agent': 'attacker/1' }, body: '{}' })
  await wrong.arrayBuffer()

  // A server that records arguments, redacted.
  const audited = await connectStreamable(t, gw.mcpUrl('audited'), key.key)
  await audited.client.callTool({ name: 'get_issue', arguments: { text: 'public', accessToken: 'hunter2', nested: { apiToken: 'x', n: 1 } } })

  await gw.app.mcpgate.audit?.flush()
  const events = (await store.listAudit({ limit: 500 })).items.reverse()
  const text = JSON.stringify(events)
  t.notOk(text.includes(key.secret), 'no secret in any event')
  t.notOk(text.includes(session), 'no session id in any event')
  t.notOk(text.includes('hunter2'), 'a redacted argument is not recorded')

  const of = (f: (e: AuditEvent) => boolean) => events.filter(f)
  const calls = of(e => e.serverId === 'catalog' && e.method === 'tools/call')
  t.same(calls.map(e => [e.name, e.outcome, e.code ?? null]), [
    ['search_code', 'allowed', null],
    ['delete_repo', 'denied', TOOL_NOT_ALLOWED],
    ['run_workflow', 'denied', TOOL_NOT_ALLOWED],
    ['merge_pr', 'denied', TOOL_NOT_ALLOWED]
  ], 'each call, batch elements one by one, with its outcome')
  const allowed = calls[0] as AuditEvent
  t.match(allowed, { keyId: key.keyId, userId: key.user.id, serverId: 'catalog', status: 200, ip: '127.0.0.1' })
  t.match(allowed.session, /^[0-9a-f]{16}$/, 'the session as a digest')
  t.ok(allowed.bytesIn > 0 && allowed.bytesOut > 0 && allowed.durationMs >= 0, 'sizes and timing')
  t.equal(allowed.arguments, undefined, 'no arguments for a server that does not opt in')
  t.ok(of(e => e.method === 'tools/list' && e.outcome === 'allowed').length >= 1, 'the list call')
  t.ok(of(e => e.method === 'initialize').length >= 1, 'initialize')
  t.ok(of(e => e.method === 'notifications/initialized').length >= 1, 'notifications too')

  const refused = of(e => e.outcome === 'denied' && e.code === 'MCPGATE_KEY_INVALID')
  t.equal(refused.length, 1, 'the refused request: one event')
  t.match(refused[0], { keyId: key.keyId, userId: null, method: 'unknown', status: 401, userAgent: 'attacker/1' }, 'the keyId it claimed, no user, the body unread')

  const withArgs = of(e => e.serverId === 'audited' && e.method === 'tools/call')
  t.same(withArgs[0]?.arguments, { text: 'public', accessToken: '[redacted]', nested: { apiToken: '[redacted]', n: 1 } }, 'arguments for an opted-in server, secret-looking names redacted')
})

t.test('with audit off: no events, and an unscoped body is relayed without being read', async t => {
  const upstream = await startCatalogUpstream(t)
  const store = await sqliteStore(t)
  const gw = await startGateway(t, { store, config: testConfig({ gateway: { shutdownGraceMs: 100 }, audit: { enabled: false }, servers: [{ id: 'catalog', url: upstream.mcpUrl }] }) })
  const key = await createTestKey(store)
  const { client } = await connectStreamable(t, gw.mcpUrl('catalog'), key.key)
  await client.callTool({ name: 'get_repo', arguments: {} })
  t.equal(gw.app.mcpgate.audit, null, 'no recorder')
  t.same((await store.listAudit({ limit: 10 })).items, [], 'nothing stored')
})
