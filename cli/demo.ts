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
  /** What to print once the gateway and the admin API listen (their URLs are known only then). */
  banner: (gatewayUrl: string, adminUrl: string) => string
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
    // -i: the answer's headers carry the Mcp-Session-Id that every later call must send.
    '  curl (initialize; -i shows the Mcp-Session-Id header of the answer):',
    `    curl -si ${url} -H "Authorization: Bearer ${key}" -H 'Content-Type: application/json' \\`,
    '      -H \'Accept: application/json, text/event-stream\' \\',
    '      -d \'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}\'',
    '  then, with that session id (list the tools):',
    `    curl -s ${url} -H "Authorization: Bearer ${key}" -H 'Content-Type: application/json' \\`,
    '      -H \'Accept: application/json, text/event-stream\' -H \'MCP-Protocol-Version: 2025-06-18\' -H "Mcp-Session-Id: $SESSION" \\',
    '      -d \'{"jsonrpc":"2.0","id":2,"method":"tools/list"}\'',
    '',
    '  Claude Code:',
    `    claude mcp add --transport http ${serverId} ${url} --header "Authorization: Bearer ${key}"`,
    '',
    '  MCP Inspector (--transport http: the URL ends in neither /mcp nor /sse):',
    `    npx @modelcontextprotocol/inspector --cli ${url} --transport http --header "Authorization: Bearer ${key}" --method tools/list`,
    '',
    '  VS Code (.vscode/mcp.json):',
    ...vscode.split('\n').map(l => '    ' + l)
  ].join('\n')
}

/** What the banner says about the admin API: how to sign in, or what is missing to. */
export function adminLine (config: Readonly<Config>, adminUrl: string): string {
  const where = `Admin API and web console: ${adminUrl}`
  if (config.admin.token !== undefined) return `${where} (sign in with the admin token you set; API docs at ${adminUrl}/docs).`
  if (config.admin.oidc !== undefined) return `${where} (sign in through ${config.admin.oidc.issuer}).`
  return `${where}: no admin token is set; set MCPGATE_ADMIN_TOKEN (at least 16 characters) and restart to use it. The operator commands need none: npx mcpgate users list`
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
  const banner = (gatewayUrl: string, adminUrl: string) => [
    '',
    `mcpgate demo — demo MCP server "${server.id}" at ${demo.url}, user ${DEMO_EMAIL}`,
    clientSnippets(gatewayUrl, server.id, demoKey),
    '',
    `  The demo key is kept in ${keyFile}.`,
    `  ${adminLine(config, adminUrl)}`,
    ''
  ].join('\n')
  return { close: demo.close, banner }
}
