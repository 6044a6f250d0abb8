// Issue 22, item 3: a drain that takes longer than 10 s still ends in exit 0. Fastify bounds every
// close step (the preClose hook that drains included) by its `pluginTimeout`, 10 s by default: a
// shutdownGraceMs of 10 s or more used to end in exit 1 with avvio's misleading
// AVV_ERR_READY_TIMEOUT "Plugin did not start in time". Real `mcpgate gateway` and `mcpgate admin`
// processes, each holding a request that never finishes for the whole grace period.
import { once } from 'node:events'
import { connect } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { createTestKey } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore, tempDir } from '../helpers/stores.ts'
import { ADMIN_TOKEN, FAST_HASHING, startMcpgate, waitReady, writeConfig } from '../helpers/processes.ts'

/** Past Fastify's default pluginTimeout (10 s), with room for the timer to be seen firing. */
const GRACE_MS = 11_000

t.test('a drain longer than 10 s exits 0, on the gateway and on the admin API', async t => {
  const path = join(tempDir(t), 'mcpgate.db')
  const store = await sqliteStore(t, { path })
  const upstream = await startRawUpstream(t, () => {
    // Never answered: the request holds the gateway's drain for the whole grace period.
  })
  const config = writeConfig(t, {
    gateway: { host: '127.0.0.1', port: 0, shutdownGraceMs: GRACE_MS },
    admin: { host: '127.0.0.1', port: 0, token: ADMIN_TOKEN },
    store: { type: 'sqlite', path },
    hashing: FAST_HASHING,
    log: { level: 'error', accessLog: false },
    servers: [{ id: 'up', url: `${upstream.origin}/base/mcp` }]
  })
  const [gateway, admin] = await Promise.all([startMcpgate(t, 'gateway', config), startMcpgate(t, 'admin', config)])
  await Promise.all([waitReady(gateway.url), waitReady(admin.url)])

  // Gateway: a request in flight upstream that never gets its answer.
  const { key } = await createTestKey(store)
  const stuck = fetch(`${gateway.url}/mcp-connect/up`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: '{}' })
    .then(r => ({ status: r.status }), (err: Error) => ({ error: err.message }))
  await upstream.waitForRequest(r => r.url.startsWith('/base/mcp'))

  // Admin API: a request whose body never arrives. `100 Continue` says the server has parsed the
  // headers, so the request is in progress when SIGTERM comes.
  const upload = connect(Number(new URL(admin.url).port), '127.0.0.1')
  upload.on('error', () => {})
  t.teardown(() => { upload.destroy() })
  await once(upload, 'connect')
  upload.setEncoding('utf8')
  const continued = new Promise<void>(resolve => { upload.on('data', (d: string) => { if (d.includes('100 Continue')) resolve() }) })
  upload.write(`POST /api/users HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\n` +
    'Content-Type: application/json\r\nContent-Length: 64\r\nExpect: 100-continue\r\n\r\n{"email":')
  await continued

  const signalledAt = performance.now()
  gateway.signal('SIGTERM')
  admin.signal('SIGTERM')
  const [g, a] = await Promise.all([gateway.exited, admin.exited])
  const after = performance.now() - signalledAt
  t.equal(g.code, 0, `gateway: exit code 0 (${after.toFixed(0)} ms after SIGTERM)`)
  t.equal(a.code, 0, 'admin API: exit code 0')
  if (g.code !== 0 || a.code !== 0) t.comment(`gateway:\n${gateway.output()}\nadmin API:\n${admin.output()}`)
  t.ok(after >= GRACE_MS - 50, `the drain used the grace period (${after.toFixed(0)} ms)`)
  t.ok('error' in await stuck, 'the unfinished gateway request was cut')
})
