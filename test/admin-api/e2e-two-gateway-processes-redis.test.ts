// End to end on Redis with two real gateway processes (`mcpgate gateway`): a key created over the
// admin API works through both; deleted over the admin API, both refuse it within 100 ms, though
// each had it cached. A user change reaches both the same way.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import t, { type Test } from 'tap'
import { ADMIN_TOKEN, startAdmin, testConfig } from '../helpers/admin.ts'
import { startMcpUpstream } from '../helpers/mcp-upstream.ts'
import { redisStore, tempDir, testRedis } from '../helpers/stores.ts'

const BIN = new URL('../../bin/mcpgate.js', import.meta.url).pathname

/** Starts `mcpgate gateway --config file` and resolves with its URL once it is listening. */
async function gatewayProcess (t: Test, configPath: string): Promise<{ url: string, child: ChildProcess }> {
  const child = spawn(process.execPath, [BIN, 'gateway', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '' } })
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(timer)
  })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  const lines = createInterface({ input: child.stdout! })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start within 30 s: ${stderr}`)), 30_000)
    lines.on('line', line => {
      const m = /listening on (http:\/\/[^/\s]+)\/mcp-connect/.exec(line)
      if (m !== null) { clearTimeout(timer); resolve(m[1] as string) }
    })
    child.once('exit', code => { clearTimeout(timer); reject(new Error(`gateway exited (${code}): ${stderr}`)) })
  })
  return { url, child }
}

t.test('two gateway processes refuse a key deleted over the admin API within 100 ms', async t => {
  const redis = await testRedis(t)
  const upstream = await startMcpUpstream(t)
  const prefix = 'two-gw:'
  const doc = {
    gateway: { host: '127.0.0.1', port: 0, shutdownGraceMs: 1000 },
    store: { type: 'redis', url: redis.url, prefix },
    hashing: { memoryCost: 1024, timeCost: 1, parallelism: 1 },
    log: { level: 'warn' },
    servers: [
      { id: 'alpha', url: upstream.mcpUrl },
      { id: 'beta', url: upstream.mcpUrl, access: { groups: ['beta-team'] } }
    ]
  }
  const configPath = join(tempDir(t), 'mcpgate.yaml')
  writeFileSync(configPath, JSON.stringify(doc)) // JSON is YAML
  const [g1, g2] = await Promise.all([gatewayProcess(t, configPath), gatewayProcess(t, configPath)])
  const gateways = [g1.url, g2.url]
  t.not(g1.child.pid, g2.child.pid, 'two processes')

  const admin = await startAdmin(t, { store: await redisStore(t, redis, { prefix }), config: testConfig({ servers: doc.servers }) })
  const user = (await admin.request({ method: 'POST', url: '/api/users', token: ADMIN_TOKEN, body: { email: 'ops@example.com', groups: ['beta-team'] } })).json()
  const created = (await admin.request({ method: 'POST', url: `/api/users/${user.id}/api-keys`, token: ADMIN_TOKEN, body: { name: 'shared', mcpServerIds: ['*'] } })).json()

  const send = async (base: string, serverId: string) => {
    const res = await fetch(`${base}/mcp-connect/${serverId}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${created.key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'e2e', version: '1' } } })
    })
    const body = await res.text()
    return { status: res.status, code: /"code":"(MCPGATE_[A-Z_]+)"/.exec(body)?.[1] }
  }
  /** Bounded: the answer once `until` holds, or the last answer after 100 ms. */
  const within100ms = async (base: string, serverId: string, until: (s: number) => boolean) => {
    const start = Date.now()
    for (;;) {
      const r = await send(base, serverId)
      const elapsed = Date.now() - start
      if (until(r.status) || elapsed > 100) return { ...r, elapsed }
    }
  }

  for (const base of gateways) {
    // Ready = store answers and the invalidation subscription is live (polled, bounded).
    const deadline = Date.now() + 10_000
    while ((await fetch(`${base}/readyz`)).status !== 200) {
      if (Date.now() > deadline) throw new Error(`${base} never became ready`)
      await new Promise(resolve => setTimeout(resolve, 20))
    }
    t.equal((await send(base, 'alpha')).status, 200, `${base}: key works (and is cached now)`)
    t.equal((await send(base, 'beta')).status, 200, `${base}: beta through the group`)
  }

  t.equal((await admin.request({ method: 'PATCH', url: `/api/users/${user.id}`, token: ADMIN_TOKEN, body: { groups: [] } })).statusCode, 200)
  for (const base of gateways) {
    const r = await within100ms(base, 'beta', s => s !== 200)
    t.match(r, { status: 404, code: 'MCPGATE_SERVER_NOT_FOUND' }, `${base}: beta refused within 100 ms of leaving the group (${r.elapsed} ms)`)
    t.equal((await send(base, 'alpha')).status, 200, `${base}: alpha still works`)
  }

  t.equal((await admin.request({ method: 'DELETE', url: `/api/admin-api-keys/${created.id}`, token: ADMIN_TOKEN })).statusCode, 204)
  for (const base of gateways) {
    const r = await within100ms(base, 'alpha', s => s !== 200)
    t.match(r, { status: 401, code: 'MCPGATE_KEY_INVALID' }, `${base}: deleted key refused within 100 ms (${r.elapsed} ms)`)
  }
})
