// A key's own `limits` through the admin API and the CLI: accepted on create, shown in every view,
// validated (a 400 naming the field); and the gateway's GET /api/me tells a key its limits and what
// is left of each window.
import t from 'tap'
import { join } from 'node:path'
import { writeFileSync } from 'node:fs'
import { main, type Io } from '../../cli/main.ts'
import { ADMIN_TOKEN, startAdmin, testConfig } from '../helpers/admin.ts'
import { startGateway, testConfig as gatewayConfig } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { startOidcIssuer } from '../helpers/oidc.ts'
import { tempDir } from '../helpers/stores.ts'

t.test('limits on a key: API, CLI, /api/me', async t => {
  const h = await startAdmin(t)
  const user = await h.service.createUser({ email: 'ci@example.com', name: 'CI' })
  const create = (body: unknown) => h.request({ method: 'POST', url: `/api/users/${user.id}/api-keys`, token: ADMIN_TOKEN, body })
  const ok = await create({ name: 'limited', mcpServerIds: ['*'], limits: { requestsPerMinute: 3, toolCallsPerDay: 100 } })
  t.equal(ok.statusCode, 201)
  const created = ok.json() as { id: string, key: string, limits: unknown }
  t.same(created.limits, { requestsPerMinute: 3, toolCallsPerDay: 100 }, 'in the create response')
  t.same((await h.request({ method: 'GET', url: `/api/admin-api-keys/${created.id}`, token: ADMIN_TOKEN })).json().limits, { requestsPerMinute: 3, toolCallsPerDay: 100 }, 'and in GET')
  for (const [limits, field] of [[{ requestsPerMinute: 0 }, 'limits.requestsPerMinute'], [{ toolCallsPerDay: 1.5 }, 'limits.toolCallsPerDay'], [{ perHour: 5 }, 'limits']] as const) {
    const bad = await create({ name: 'bad', mcpServerIds: ['*'], limits })
    t.equal(bad.statusCode, 400, `${JSON.stringify(limits)}: 400`)
    t.match(bad.json().message, field, 'naming the field')
  }

  // The gateway tells the key its limits and what is left.
  const upstream = await startRawUpstream(t, (_req, res) => { res.end('{}') })
  const gw = await startGateway(t, { store: h.store, config: gatewayConfig({ servers: [{ id: 'up', url: `${upstream.origin}/mcp` }] }) })
  for (let i = 0; i < 2; i++) await (await fetch(gw.mcpUrl('up'), { method: 'POST', headers: { authorization: `Bearer ${created.key}` }, body: '{}' })).arrayBuffer()
  const me = await (await fetch(`${gw.url}/api/me`, { headers: { authorization: `Bearer ${created.key}` } })).json() as { limits: Array<{ scope: string, kind: string, limit: number, remaining: number, resetAt: string }> }
  const requests = me.limits.find(l => l.kind === 'requests')
  t.match(requests, { scope: 'key', limit: 3 })
  t.ok(requests !== undefined && requests.remaining <= 1, `what is left this minute (${requests?.remaining}; leased tokens count as used)`)
  t.match(me.limits.find(l => l.kind === 'toolCalls'), { scope: 'key', limit: 100, remaining: 100 })

  // The CLI: the flags, and a usage error naming a bad one.
  const dir = tempDir(t)
  const file = join(dir, 'mcpgate.yaml')
  writeFileSync(file, `store: { type: sqlite, path: ${join(dir, 'db.sqlite')} }\nhashing: { memoryCost: 1024, timeCost: 1 }\nservers:\n  - id: alpha\n    url: http://127.0.0.1:9/mcp\n`)
  const lines: string[] = []
  const errs: string[] = []
  const io: Io = { out: l => lines.push(l), err: l => errs.push(l) }
  t.equal(await main(['users', 'create', '--email', 'svc@example.com', '--name', 'svc', '--config', file], {}, io), 0)
  t.equal(await main(['keys', 'create', '--user', 'svc@example.com', '--name', 'k', '--servers', 'alpha', '--requests-per-minute', '60', '--tool-calls-per-day', '500', '--config', file], {}, io), 0, errs.join('\n'))
  t.equal(await main(['keys', 'list', '--config', file], {}, io), 0)
  t.equal(await main(['keys', 'create', '--user', 'svc@example.com', '--name', 'k', '--servers', 'alpha', '--requests-per-minute', 'lots', '--config', file], {}, io), 2, 'a bad number: usage error')
  t.match(errs.join('\n'), /--requests-per-minute/)
})

t.test('the admin API shows what is left: a key\'s usage (its limits and its owner\'s), a user\'s /api/me (their totals)', async t => {
  const idp = await startOidcIssuer()
  t.teardown(() => idp.close())
  // Limits under 40 lease one token at a time: the store's counters are exact here.
  const limits = { perKey: { requestsPerMinute: 30 }, perUser: { toolCallsPerDay: 20 } }
  const h = await startAdmin(t, { config: testConfig({ gateway: { limits } }, idp) })
  const token = await idp.sign({ sub: 'lin', email: 'lin@example.com', email_verified: true })
  const signedIn = (await h.request({ method: 'GET', url: '/api/me', token })).json() as { user: { id: string }, limits: unknown[] }
  t.equal(signedIn.limits.length, 1, 'one limit applies to the user: the total of tool calls')
  t.match(signedIn.limits[0], { scope: 'user', kind: 'toolCalls', limit: 20, remaining: 20 }, 'untouched yet')
  const created = (await h.request({ method: 'POST', url: `/api/users/${signedIn.user.id}/api-keys`, token: ADMIN_TOKEN, body: { name: 'k', mcpServerIds: ['*'] } })).json() as { id: string, key: string }

  const upstream = await startRawUpstream(t, (_req, res) => { res.setHeader('content-type', 'application/json'); res.end('{"jsonrpc":"2.0","id":1,"result":{"content":[]}}') })
  const gw = await startGateway(t, { store: h.store, config: gatewayConfig({ gateway: { limits }, servers: [{ id: 'up', url: `${upstream.origin}/mcp` }] }) })
  for (let i = 0; i < 3; i++) {
    const res = await fetch(gw.mcpUrl('up'), {
      method: 'POST',
      headers: { authorization: `Bearer ${created.key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: {} } })
    })
    t.equal(res.status, 200)
    await res.arrayBuffer()
  }
  const usage = (await h.request({ method: 'GET', url: `/api/admin-api-keys/${created.id}/usage`, token: ADMIN_TOKEN })).json() as { limits: Array<{ scope: string, kind: string, limit: number, remaining: number, resetAt: string }> }
  t.match(usage.limits, [
    { scope: 'key', kind: 'requests', limit: 30, remaining: 27 },
    { scope: 'user', kind: 'toolCalls', limit: 20, remaining: 17 }
  ], 'the key\'s requests this minute and its owner\'s tool calls today')
  t.equal(usage.limits.length, 2)
  const day = usage.limits[1]?.resetAt ?? ''
  t.match(day, /T00:00:00\.000Z$/, 'a quota resets at the next UTC midnight')
  const own = (await h.request({ method: 'GET', url: `/api/api-keys/${created.id}/usage`, token })).json() as { limits: unknown }
  t.same(own.limits, usage.limits, 'the owner sees the same on their own key')
  const me = (await h.request({ method: 'GET', url: '/api/me', token })).json() as { limits: unknown }
  t.match(me.limits, [{ scope: 'user', kind: 'toolCalls', limit: 20, remaining: 17, resetAt: day }], 'and their total in /api/me')
  t.same((await h.request({ method: 'GET', url: '/api/me', token: ADMIN_TOKEN })).json().limits, [], 'the bootstrap token has none')
})
