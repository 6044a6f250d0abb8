// `mcpgate start --demo` (what `npm start` runs): starts the built-in demo MCP server, makes sure a
// demo user and key exist, and prints how to connect. The demo key is kept next to the SQLite file
// (mode 0600) so that later runs print the same key; real deployments never store keys.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import type { Config } from '../config/schema.ts'
import type { KeyStore } from '../core/store/store.ts'
import { parseKey } from '../core/key-format.ts'
import { createKeyService } from '../admin-api/key-service.ts'
import { startDemoServer } from './demo-server.ts'

const DEMO_EMAIL = 'demo@mcpgate.local'

export interface DemoHandle {
  close: () => Promise<void>
  /** What to print once the gateway listens (its URL is known only then). */
  banner: (gatewayUrl: string) => string
}

function stateDir (config: Readonly<Config>): string {
  return config.store.type === 'sqlite' ? dirname(resolve(config.store.path)) : resolve('data')
}

function writeSecretFile (path: string, value: string): void {
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, value + '\n', { mode: 0o600 })
  chmodSync(path, 0o600)
}

export function clientSnippets (gatewayUrl: string, serverId: string, key: string): string {
  const url = `${gatewayUrl}/mcp-connect/${serverId}`
  const vscode = JSON.stringify({ servers: { [serverId]: { type: 'http', url, headers: { Authorization: `Bearer ${key}` } } } }, null, 2)
  return [
    `  MCP endpoint:  ${url}`,
    `  API key:       ${key}`,
    '',
    '  curl (initialize):',
    `    curl -s ${url} -H "Authorization: Bearer ${key}" -H 'Content-Type: application/json' \\`,
    '      -H \'Accept: application/json, text/event-stream\' \\',
    '      -d \'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}\'',
    '',
    '  Claude Code:',
    `    claude mcp add --transport http ${serverId} ${url} --header "Authorization: Bearer ${key}"`,
    '',
    '  VS Code (.vscode/mcp.json):',
    ...vscode.split('\n').map(l => '    ' + l)
  ].join('\n')
}

export async function startDemo (config: Readonly<Config>, store: KeyStore): Promise<DemoHandle> {
  const server = config.servers[0]
  if (server === undefined) throw new Error('--demo needs at least one server in the config')
  const upstream = new URL(server.url)
  const demo = await startDemoServer({ host: upstream.hostname, port: Number(upstream.port || 80) })

  const service = createKeyService({ store, config })
  const dir = stateDir(config)
  const keyFile = join(dir, 'demo-key.txt')
  let user = await store.getUserByEmail(DEMO_EMAIL)
  if (user === null) {
    await service.createUser({ email: DEMO_EMAIL, name: 'Demo User', role: 'user', groups: [] })
    user = await store.getUserByEmail(DEMO_EMAIL)
  }
  if (user === null) throw new Error('could not create the demo user')

  let key: string | null = null
  if (existsSync(keyFile)) {
    const saved = readFileSync(keyFile, 'utf8').trim()
    const parsed = parseKey(saved)
    if (parsed.ok && (await store.getKey(parsed.key.keyId)) !== null) key = saved
  }
  if (key === null) {
    const created = await service.createKey(user.id, { name: 'demo', description: 'created by mcpgate start --demo', mcpServerIds: ['*'] })
    key = created.key
    writeSecretFile(keyFile, key)
  }

  const demoKey = key
  const banner = (gatewayUrl: string) => [
    '',
    `mcpgate demo — demo MCP server "${server.id}" at ${demo.url}, user ${DEMO_EMAIL}`,
    clientSnippets(gatewayUrl, server.id, demoKey),
    '',
    `  The demo key is kept in ${keyFile}. Admin API: http://${config.admin.host}:${config.admin.port} (set MCPGATE_ADMIN_TOKEN to use it).`,
    ''
  ].join('\n')
  return { close: demo.close, banner }
}
