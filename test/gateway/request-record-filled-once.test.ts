// The request record (gateway/request-record.ts): each stage writes its facts once — a second
// write of the same fact throws, so a pipeline that wrote twice would answer 500 — and what the
// end of a request reads (access line, metrics, listeners) is exactly what the stages found.
// Every kind of refusal and a success, through a real gateway, each checked field by field.
import t from 'tap'
import type { RequestEnd } from '../../gateway/access-log.ts'
import { GateRecord } from '../../gateway/request-record.ts'
import { checksumOf } from '../../core/key-format.ts'
import { createTestKey, createTestUser, startGateway, testConfig } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

t.test('a fact written twice throws', async t => {
  const gate = new GateRecord(null, '127.0.0.1', null)
  gate.keyPresented(true, 'abc')
  t.throws(() => gate.keyPresented(false, null), /written twice/)
  gate.failed('MCPGATE_KEY_INVALID')
  t.throws(() => gate.failed('MCPGATE_INTERNAL'), /written twice/)
  gate.deny('out_of_scope')
  t.throws(() => gate.deny('access_denied'), /written twice/)
})

t.test('each refusal and a success fill the record once, with what the stages found', async t => {
  const upstream = await startRawUpstream(t, (req, res) => {
    if ((req.url ?? '').includes('fail')) {
      res.writeHead(401, { 'www-authenticate': 'Bearer' })
      res.end()
      return
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end('{}')
  })
  const store = await sqliteStore(t)
  const ends: RequestEnd[] = []
  const url = `${upstream.origin}/mcp`
  const gw = await startGateway(t, {
    store,
    onRequestEnd: end => ends.push(end),
    config: testConfig({
      gateway: { allowedOrigins: ['https://ok.example'] },
      servers: [{ id: 'up', url }, { id: 'other', url }, { id: 'admins', url, access: { roles: ['admin'] } }]
    })
  })
  const good = await createTestKey(store, { mcpServerIds: ['up', 'admins'], user: await createTestUser(store) })
  const expired = await createTestKey(store, { expiresAt: Date.now() - 1000 })
  const wrongBody = good.key.slice(0, good.key.length - good.secret.length) + 'w'.repeat(40)
  const wrong = wrongBody + checksumOf(wrongBody)

  const cases: Array<{ name: string, path: string, headers?: Record<string, string>, status: number, code: string | null, keySent: boolean, keyId: string | null, principal: boolean, server: string | null, denied?: string }> = [
    { name: 'success', path: '/mcp-connect/up', headers: { authorization: `Bearer ${good.key}` }, status: 200, code: null, keySent: true, keyId: good.keyId, principal: true, server: 'up' },
    { name: 'success from the cache', path: '/mcp-connect/up?x=1', headers: { authorization: `Bearer ${good.key}` }, status: 200, code: null, keySent: true, keyId: good.keyId, principal: true, server: 'up' },
    { name: 'no key', path: '/mcp-connect/up', status: 401, code: 'MCPGATE_KEY_MISSING', keySent: false, keyId: null, principal: false, server: null },
    { name: 'malformed key', path: '/mcp-connect/up', headers: { 'x-api-key': 'ok1-nope' }, status: 401, code: 'MCPGATE_KEY_MALFORMED', keySent: true, keyId: null, principal: false, server: null },
    { name: 'wrong secret', path: '/mcp-connect/up', headers: { authorization: `Bearer ${wrong}` }, status: 401, code: 'MCPGATE_KEY_INVALID', keySent: true, keyId: good.keyId, principal: false, server: null },
    { name: 'expired', path: '/mcp-connect/up', headers: { authorization: `Bearer ${expired.key}` }, status: 401, code: 'MCPGATE_KEY_EXPIRED', keySent: true, keyId: expired.keyId, principal: false, server: null },
    { name: 'out of scope', path: '/mcp-connect/other', headers: { authorization: `Bearer ${good.key}` }, status: 404, code: 'MCPGATE_SERVER_NOT_FOUND', keySent: true, keyId: good.keyId, principal: true, server: null, denied: 'out_of_scope' },
    { name: 'owner has no access', path: '/mcp-connect/admins', headers: { authorization: `Bearer ${good.key}` }, status: 404, code: 'MCPGATE_SERVER_NOT_FOUND', keySent: true, keyId: good.keyId, principal: true, server: null, denied: 'access_denied' },
    { name: 'unknown server', path: '/mcp-connect/nope', headers: { authorization: `Bearer ${good.key}` }, status: 404, code: 'MCPGATE_SERVER_NOT_FOUND', keySent: true, keyId: good.keyId, principal: true, server: null },
    { name: 'bad sub-path', path: '/mcp-connect/up/a%2fb', headers: { authorization: `Bearer ${good.key}` }, status: 400, code: 'MCPGATE_PATH_INVALID', keySent: true, keyId: good.keyId, principal: true, server: null },
    { name: 'unknown session', path: '/mcp-connect/up', headers: { authorization: `Bearer ${good.key}`, 'mcp-session-id': 'nope' }, status: 404, code: 'MCPGATE_SESSION_NOT_FOUND', keySent: true, keyId: good.keyId, principal: true, server: 'up' },
    { name: 'upstream refuses the gateway', path: '/mcp-connect/up?fail', headers: { authorization: `Bearer ${good.key}` }, status: 502, code: 'MCPGATE_UPSTREAM_AUTH_FAILED', keySent: true, keyId: good.keyId, principal: true, server: 'up' },
    { name: 'refused Origin', path: '/mcp-connect/up', headers: { authorization: `Bearer ${good.key}`, origin: 'https://evil.example' }, status: 403, code: 'MCPGATE_ORIGIN_FORBIDDEN', keySent: false, keyId: null, principal: false, server: null },
    { name: 'OAuth probe', path: '/.well-known/oauth-protected-resource', status: 404, code: 'MCPGATE_OAUTH_NOT_ENABLED', keySent: false, keyId: null, principal: false, server: null },
    { name: 'unknown route', path: '/nowhere', status: 404, code: 'MCPGATE_ROUTE_NOT_FOUND', keySent: false, keyId: null, principal: false, server: null }
  ]
  for (const c of cases) {
    const before = ends.length
    const res = await fetch(gw.url + c.path, { method: 'POST', headers: { 'content-type': 'application/json', ...c.headers }, body: '{}' })
    await res.arrayBuffer()
    t.equal(res.status, c.status, `${c.name}: ${c.status}`)
    // The record is read at 'close' of the response, which the client may see first.
    while (ends.length === before) await new Promise(resolve => setImmediate(resolve))
    const { gate } = ends[ends.length - 1] as RequestEnd
    t.equal(gate.code, c.code, `${c.name}: the code the error path wrote`)
    t.equal(gate.keySent, c.keySent, `${c.name}: keySent`)
    t.equal(gate.principal?.keyId ?? gate.claimedKeyId, c.keyId, `${c.name}: the key`)
    t.equal(gate.principal !== null, c.principal, `${c.name}: principal`)
    t.equal(gate.server?.id ?? null, c.server, `${c.name}: the authorized server`)
    t.equal(gate.denied, c.denied ?? null, `${c.name}: denial`)
    t.equal(gate.target !== null, c.server !== null, `${c.name}: a target only when authorized`)
    t.equal(gate.upstreamStatus, c.status === 200 ? 200 : c.code === 'MCPGATE_UPSTREAM_AUTH_FAILED' ? 401 : 0, `${c.name}: upstream status`)
    if (c.principal) t.equal(gate.authVia, c.name === 'success' ? 'verified' : 'cache', `${c.name}: how the key was accepted`)
  }
  t.notMatch(gw.logs.text(), /written twice|MCPGATE_INTERNAL/, 'no stage wrote a fact twice')
})
