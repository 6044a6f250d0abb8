// A key's own `limits` through the admin API and the CLI: accepted on create, shown in every view,
// validated (a 400 naming the field); and the gateway's GET /api/me tells a key its limits and what
// is left of each window.
import t from 'tap'
import { join } from 'node:path'
import { writeFileSync } from 'node:fs'
import { main, type Io } from '../../cli/main.ts'
import { ADMIN_TOKEN, startAdmin } from '../helpers/admin.ts'
import { startGateway, testConfig as gatewayConfig } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
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
