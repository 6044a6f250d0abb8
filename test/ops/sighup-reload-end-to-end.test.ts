// A real `mcpgate start` process and a real SIGHUP. A good new file: an added server becomes
// reachable (gateway, and the admin API's server list), a tightened access rule refuses the keys of
// users who lost access at once, and an SSE stream opened before the reload keeps flowing. A bad new
// file: an error is logged and the running config stays.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import type { ServerResponse } from 'node:http'
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { tempDir } from '../helpers/stores.ts'

const bin = new URL('../../bin/mcpgate.js', import.meta.url).pathname
const ADMIN_TOKEN = 'sighup-test-admin-token-0123456789'

function configText (dbPath: string, origin: string, servers: string[]): string {
  return [
    'gateway: { host: 127.0.0.1, port: 0 }',
    'admin: { host: 127.0.0.1, port: 0 }',
    `store: { type: sqlite, path: ${dbPath} }`,
    'hashing: { memoryCost: 1024, timeCost: 1, parallelism: 1 }',
    'log: { level: info }',
    'servers:',
    `  - { id: alpha, url: "${origin}/mcp" }`,
    `  - { id: events, url: "${origin}/events" }`,
    ...servers
  ].join('\n') + '\n'
}

interface Running {
  child: ChildProcess
  gateway: string
  admin: string
  output: () => string
  /** Resolves when the output contains `text` for the n-th time (bounded). */
  waitFor: (text: string, n?: number) => Promise<void>
}

async function start (t: Test, configFile: string): Promise<Running> {
  const child = spawn(process.execPath, [bin, 'start', '--config', configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '', MCPGATE_ADMIN_TOKEN: ADMIN_TOKEN }
  })
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGKILL')
    await once(child, 'exit')
  })
  let out = ''
  const waiters = new Set<() => void>()
  const onData = (d: string): void => {
    out += d
    for (const w of waiters) w()
  }
  child.stdout!.setEncoding('utf8').on('data', onData)
  child.stderr!.setEncoding('utf8').on('data', onData)
  const count = (text: string): number => out.split(text).length - 1
  function waitFor (text: string, n = 1): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (count(text) < n) return
        done()
        resolve()
      }
      const timer = setTimeout(() => { done(); reject(new Error(`no "${text}" (#${n}) within 30 s:\n${out}`)) }, 30_000)
      const onExit = (): void => { done(); reject(new Error(`mcpgate exited:\n${out}`)) }
      function done (): void {
        clearTimeout(timer)
        waiters.delete(check)
        child.off('exit', onExit)
      }
      waiters.add(check)
      child.once('exit', onExit)
      check()
    })
  }
  await waitFor('admin API listening')
  const gateway = /gateway listening on (http:\/\/\S+?)\/mcp-connect/.exec(out)?.[1]
  const admin = /admin API listening on (http:\/\/\S+)/.exec(out)?.[1]
  if (gateway === undefined || admin === undefined) throw new Error(`no URLs in:\n${out}`)
  return { child, gateway, admin, output: () => out, waitFor }
}

t.test('SIGHUP reloads servers and access rules; a bad file changes nothing', async t => {
  let stream: ServerResponse | undefined
  const upstream = await startRawUpstream(t, (req, res) => {
    if (req.url === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write('data: before\n\n')
      stream = res
      return
    }
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{"jsonrpc":"2.0","id":1,"result":{}}')
    })
  })
  const dir = tempDir(t)
  const configFile = join(dir, 'mcpgate.yaml')
  const dbPath = join(dir, 'data', 'mcpgate.db')
  writeFileSync(configFile, configText(dbPath, upstream.origin, [`  - { id: team, url: "${upstream.origin}/mcp" }`]))
  const mcpgate = await start(t, configFile)

  const adminCall = async (method: string, path: string, body?: unknown): Promise<any> => {
    const res = await fetch(`${mcpgate.admin}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    return { status: res.status, body: await res.json() }
  }
  const user = (await adminCall('POST', '/api/users', { email: 'hup@example.com' })).body
  const created = await adminCall('POST', `/api/users/${user.id as string}/api-keys`, { name: 'all', mcpServerIds: ['*'] })
  t.equal(created.status, 201)
  const key = created.body.key as string
  const post = async (id: string): Promise<number> => {
    const res = await fetch(`${mcpgate.gateway}/mcp-connect/${id}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: '{}' })
    await res.arrayBuffer()
    return res.status
  }
  const serverIds = async (): Promise<string[]> => (await adminCall('GET', '/api/mcp-servers')).body.items.map((s: { id: string }) => s.id)

  t.equal(await post('alpha'), 200)
  t.equal(await post('team'), 200, 'team is open to everyone at first')
  t.equal(await post('beta'), 404, 'beta does not exist yet')
  t.same(await serverIds(), ['alpha', 'events', 'team'])

  const events = await fetch(`${mcpgate.gateway}/mcp-connect/events`, { headers: { authorization: `Bearer ${key}` } })
  const reader = events.body!.getReader()
  const decoder = new TextDecoder()
  t.equal(decoder.decode((await reader.read()).value), 'data: before\n\n', 'stream open before the reload')

  // Good file: beta added, team restricted to admins.
  writeFileSync(configFile, configText(dbPath, upstream.origin, [
    `  - { id: team, url: "${upstream.origin}/mcp", access: { roles: [admin] } }`,
    `  - { id: beta, url: "${upstream.origin}/mcp" }`
  ]))
  mcpgate.child.kill('SIGHUP')
  await mcpgate.waitFor('config reloaded')
  t.equal(await post('beta'), 200, 'the new server is reachable')
  t.equal(await post('team'), 404, 'the user lost access to team: refused at once')
  t.equal(await post('alpha'), 200, 'untouched servers still work')
  t.same(await serverIds(), ['alpha', 'events', 'team', 'beta'], 'the admin API lists the new server')

  stream!.write('data: after\n\n')
  t.equal(decoder.decode((await reader.read()).value), 'data: after\n\n', 'the stream opened before the reload still flows')

  // Bad file: rejected with a logged error; everything stays as it was.
  writeFileSync(configFile, configText(dbPath, upstream.origin, ['  - { id: "Not A Slug", url: "x" }']))
  mcpgate.child.kill('SIGHUP')
  await mcpgate.waitFor('config reload rejected')
  const rejected = mcpgate.output().split('\n').find(l => l.includes('config reload rejected'))!
  t.match(JSON.parse(rejected), { level: 50, msg: 'config reload rejected; keeping the running config' }, 'logged as an error')
  t.match(rejected, /servers/, 'the error names the bad field')
  t.equal(await post('beta'), 200, 'beta is still there')
  t.equal(await post('team'), 404, 'team still admin-only')
  t.same(await serverIds(), ['alpha', 'events', 'team', 'beta'])
  t.equal(mcpgate.child.exitCode, null, 'still running')

  stream!.write('data: still\n\n')
  t.equal(decoder.decode((await reader.read()).value), 'data: still\n\n', 'and the stream still flows')
  await reader.cancel()

  mcpgate.child.kill('SIGTERM')
  const [code] = await once(mcpgate.child, 'exit') as [number | null]
  t.equal(code, 0, 'exits cleanly on SIGTERM')
})

t.test('a change of the config file reloads it without a signal (replaced by rename, as editors and Kubernetes do)', async t => {
  const upstream = await startRawUpstream(t, (req, res) => {
    req.resume()
    req.on('end', () => { res.end('{"jsonrpc":"2.0","id":1,"result":{}}') })
  })
  const dir = tempDir(t)
  const configFile = join(dir, 'mcpgate.yaml')
  const dbPath = join(dir, 'data', 'mcpgate.db')
  writeFileSync(configFile, configText(dbPath, upstream.origin, []))
  const mcpgate = await start(t, configFile)
  const listed = async (): Promise<string[]> => {
    const res = await fetch(`${mcpgate.admin}/api/mcp-servers`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    return ((await res.json()) as { items: Array<{ id: string }> }).items.map(s => s.id)
  }
  t.same(await listed(), ['alpha', 'events'])

  const replace = (text: string): void => {
    writeFileSync(join(dir, '.mcpgate.yaml.tmp'), text)
    renameSync(join(dir, '.mcpgate.yaml.tmp'), configFile)
  }
  replace(configText(dbPath, upstream.origin, [`  - { id: beta, url: "${upstream.origin}/mcp" }`]))
  await mcpgate.waitFor('config reloaded')
  const line = mcpgate.output().split('\n').find(l => l.includes('config reloaded'))!
  t.match(JSON.parse(line), { level: 30, trigger: 'file change', servers: 3 }, 'logged with what triggered it')
  t.same(await listed(), ['alpha', 'events', 'beta'], 'the new server is there')

  replace(configText(dbPath, upstream.origin, ['  - { id: "Not A Slug", url: "x" }']))
  await mcpgate.waitFor('config reload rejected')
  t.same(await listed(), ['alpha', 'events', 'beta'], 'a bad file changes nothing')

  // Same content as what was last read (the bad file): not a change, nothing reloads; then SIGHUP
  // after an edit reloads once, and the watcher does not repeat it.
  replace(configText(dbPath, upstream.origin, []))
  mcpgate.child.kill('SIGHUP')
  await mcpgate.waitFor('config reloaded', 2)
  t.same(await listed(), ['alpha', 'events'], 'beta removed by the edit')
  writeFileSync(join(dir, 'unrelated.txt'), 'x')
  replace(configText(dbPath, upstream.origin, [`  - { id: gamma, url: "${upstream.origin}/mcp" }`]))
  await mcpgate.waitFor('config reloaded', 3)
  const reloads = mcpgate.output().split('\n').filter(l => l.includes('config reloaded')).map(l => (JSON.parse(l) as { trigger: string }).trigger)
  t.same(reloads, ['file change', 'SIGHUP', 'file change'], 'one reload per change: the watcher did not repeat the SIGHUP\'s')
  t.same(await listed(), ['alpha', 'events', 'gamma'])
})

t.test('a Kubernetes-style ConfigMap update (the ..data symlink swapped to a new directory) reloads too', async t => {
  const upstream = await startRawUpstream(t, (req, res) => {
    req.resume()
    req.on('end', () => { res.end('{"jsonrpc":"2.0","id":1,"result":{}}') })
  })
  const dir = tempDir(t)
  const dbPath = join(dir, 'data', 'mcpgate.db')
  // The layout the kubelet makes: mcpgate.yaml → ..data/mcpgate.yaml, ..data → ..<version>/.
  const version = (n: number, servers: string[]): void => {
    mkdirSync(join(dir, `..v${n}`))
    writeFileSync(join(dir, `..v${n}`, 'mcpgate.yaml'), configText(dbPath, upstream.origin, servers))
  }
  version(1, [])
  symlinkSync('..v1', join(dir, '..data'))
  symlinkSync(join('..data', 'mcpgate.yaml'), join(dir, 'mcpgate.yaml'))
  const mcpgate = await start(t, join(dir, 'mcpgate.yaml'))

  version(2, [`  - { id: beta, url: "${upstream.origin}/mcp" }`])
  symlinkSync('..v2', join(dir, '..data_tmp'))
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'))
  await mcpgate.waitFor('config reloaded')
  const res = await fetch(`${mcpgate.admin}/api/mcp-servers`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  t.same(((await res.json()) as { items: Array<{ id: string }> }).items.map(s => s.id), ['alpha', 'events', 'beta'], 'the new version is running')
})
