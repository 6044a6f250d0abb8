// `mcpgate start` runs the gateway and the admin API in one process; on SIGTERM both drain at the
// same time. One after the other, a stuck request in each needed two grace periods, past the
// process's forced exit at grace + 5 s: exit 1. With a 6 s grace, the sequential close took 12 s
// (> 11 s); now both finish within one grace period and the process exits 0.
import { once } from 'node:events'
import { connect } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { createTestKey } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore, tempDir } from '../helpers/stores.ts'
import { ADMIN_TOKEN, FAST_HASHING, startMcpgate, waitReady, writeConfig } from '../helpers/processes.ts'

const GRACE_MS = 6000

t.test('start: a stuck request in each app, one grace period, exit 0', async t => {
  const path = join(tempDir(t), 'mcpgate.db')
  const store = await sqliteStore(t, { path })
  const upstream = await startRawUpstream(t, () => {})
  const config = writeConfig(t, {
    gateway: { host: '127.0.0.1', port: 0, shutdownGraceMs: GRACE_MS },
    admin: { host: '127.0.0.1', port: 0, token: ADMIN_TOKEN },
    store: { type: 'sqlite', path },
    hashing: FAST_HASHING,
    log: { level: 'error', accessLog: false },
    servers: [{ id: 'up', url: `${upstream.origin}/mcp` }]
  })
  const both = await startMcpgate(t, 'start', config)
  const adminUrl = both.adminUrl as string
  await Promise.all([waitReady(both.url), waitReady(adminUrl)])

  const { key } = await createTestKey(store)
  const stuck = fetch(`${both.url}/mcp-connect/up`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: '{}' })
    .then(r => ({ status: r.status }), (err: Error) => ({ error: err.message }))
  await upstream.waitForRequest(r => r.url === '/mcp')

  const upload = connect(Number(new URL(adminUrl).port), '127.0.0.1')
  upload.on('error', () => {})
  t.teardown(() => { upload.destroy() })
  await once(upload, 'connect')
  upload.setEncoding('utf8')
  const continued = new Promise<void>(resolve => { upload.on('data', (d: string) => { if (d.includes('100 Continue')) resolve() }) })
  upload.write(`POST /api/users HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\n` +
    'Content-Type: application/json\r\nContent-Length: 64\r\nExpect: 100-continue\r\n\r\n{"email":')
  await continued

  const signalledAt = performance.now()
  both.signal('SIGTERM')
  const { code } = await both.exited
  const after = performance.now() - signalledAt
  t.equal(code, 0, `exit code 0 (${after.toFixed(0)} ms after SIGTERM)`)
  if (code !== 0) t.comment(both.output())
  t.ok(after < 2 * GRACE_MS, `one grace period, not two (${after.toFixed(0)} ms)`)
  t.ok('error' in await stuck, 'the unfinished gateway request was cut')
})
