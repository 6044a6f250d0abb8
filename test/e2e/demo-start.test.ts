// `mcpgate start --demo` (what `npm start` runs) prints a key with which a real MCP SDK client
// lists the demo server's tools through the gateway; a second run prints the same key; SIGTERM exits 0.
import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { tempDir } from '../helpers/stores.ts'

const bin = new URL('../../bin/mcpgate.js', import.meta.url).pathname

async function freePort (): Promise<number> {
  const srv = createServer()
  srv.listen(0, '127.0.0.1')
  await once(srv, 'listening')
  const port = (srv.address() as { port: number }).port
  srv.close()
  await once(srv, 'close')
  return port
}

interface Started { child: ChildProcess, endpoint: string, key: string, output: () => string }

async function start (configFile: string): Promise<Started> {
  const child = spawn(process.execPath, [bin, 'start', '--demo', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '' } })
  let out = ''
  child.stdout.setEncoding('utf8')
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (d: string) => { out += d })
  const ready = new Promise<{ endpoint: string, key: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('mcpgate start did not print a key within 30 s:\n' + out)), 30000)
    child.stdout.on('data', (d: string) => {
      out += d
      const endpoint = /MCP endpoint:\s+(\S+)/.exec(out)?.[1]
      const key = /API key:\s+(ok1-\S+)/.exec(out)?.[1]
      if (endpoint !== undefined && key !== undefined && out.includes('admin API listening')) {
        clearTimeout(timer)
        resolve({ endpoint, key })
      }
    })
    child.once('exit', code => { clearTimeout(timer); reject(new Error(`mcpgate exited early (${code}):\n${out}`)) })
  })
  const { endpoint, key } = await ready
  return { child, endpoint, key, output: () => out }
}

async function stop (s: Started): Promise<number | null> {
  if (s.child.exitCode !== null) return s.child.exitCode
  s.child.kill('SIGTERM')
  const [code] = await once(s.child, 'exit') as [number | null]
  return code
}

t.test('npm start prints a working key; restart prints the same key', async t => {
  const dir = tempDir(t)
  const upstreamPort = await freePort()
  const configFile = join(dir, 'demo.yaml')
  writeFileSync(configFile, [
    'gateway: { host: 127.0.0.1, port: 0 }',
    'admin: { host: 127.0.0.1, port: 0 }',
    `store: { type: sqlite, path: ${join(dir, 'data', 'mcpgate.db')} }`,
    'log: { level: warn }',
    'servers:',
    '  - id: demo',
    `    url: http://127.0.0.1:${upstreamPort}/mcp`
  ].join('\n'))

  const first = await start(configFile)
  t.teardown(() => { first.child.kill('SIGKILL') })
  t.match(first.output(), 'claude mcp add --transport http demo')
  t.match(first.output(), '"type": "http"')

  const client = new Client({ name: 'demo-test', version: '1.0.0' })
  await client.connect(new StreamableHTTPClientTransport(new URL(first.endpoint), { requestInit: { headers: { Authorization: `Bearer ${first.key}` } } }))
  const { tools } = await client.listTools()
  t.ok(tools.some(tool => tool.name === 'echo'), 'the demo server lists its echo tool through the gateway')
  await client.close()
  t.equal(await stop(first), 0, 'SIGTERM exits 0')

  const second = await start(configFile)
  t.teardown(() => { second.child.kill('SIGKILL') })
  t.equal(second.key, first.key, 'a second run prints the same demo key')
  t.equal(await stop(second), 0)
})
