// mcp-remote's own OAuth flow against the gateway in OAuth mode: spawned without a key, it finds
// the protected resource metadata from the 401, the AS metadata, registers a client (DCR), starts
// its local callback server and prints the authorization URL (its browser openers are stand-ins
// that only record being called). The user's part is done over HTTP as the console does it; the
// code reaches mcp-remote's callback, it exchanges it (PKCE) and bridges tools/list and
// tools/call on stdio with the access token.
import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { tempDir } from '../helpers/stores.ts'
import { consentAs, CookieBrowser, startOAuthStack } from '../helpers/oauth-stack.ts'

const MCP_REMOTE = new URL('../../node_modules/mcp-remote/dist/proxy.js', import.meta.url).pathname
/** Failure guards only: each wait ends as soon as what it waits for happens. */
const BOUND_MS = 20000
const BROWSER_COMMANDS = ['browser', 'xdg-open', 'gio', 'x-www-browser', 'sensible-browser', 'www-browser', 'firefox', 'chromium', 'google-chrome']

interface JsonRpcAnswer { id?: number, result?: Record<string, unknown>, error?: unknown }

const INITIALIZE = { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'mcpgate-e2e', version: '1.0.0' } } }

t.test('mcp-remote signs in through the OAuth door and bridges the tools', async t => {
  const stack = await startOAuthStack(t)
  const url = stack.mcpUrl('alpha')

  const home = tempDir(t, 'mcpgate-mcp-remote-oauth-')
  const bin = join(home, 'bin')
  const marker = join(home, 'browser-opened.log')
  mkdirSync(bin)
  for (const name of BROWSER_COMMANDS) writeFileSync(join(bin, name), `#!/bin/sh\necho "$0 $*" >> '${marker}'\n`, { mode: 0o755 })
  const child = spawn(process.execPath, [MCP_REMOTE, url], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { PATH: `${bin}:${process.env.PATH ?? ''}`, HOME: home, BROWSER: join(bin, 'browser'), MCP_REMOTE_CONFIG_DIR: join(home, 'mcp-auth') }
  })
  const exit = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exit
  })
  let stderr = ''
  const messages: JsonRpcAnswer[] = []
  const wake = new Set<() => void>()
  const notify = () => { for (const w of wake) w() }
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (d: string) => { stderr += d; notify() })
  createInterface({ input: child.stdout }).on('line', line => {
    try { messages.push(JSON.parse(line) as JsonRpcAnswer) } catch { /* not a message */ }
    notify()
  })
  /** Resolves with what `found` returns once it returns something (woken by mcp-remote's output). */
  const until = async <T>(what: string, found: () => T | undefined): Promise<T> => {
    const deadline = Date.now() + BOUND_MS
    for (;;) {
      const value = found()
      if (value !== undefined) return value
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`mcp-remote: no ${what}\nstderr: ${stderr}`)
      await new Promise<void>(resolve => { wake.add(resolve); setTimeout(resolve, 200).unref() }).finally(() => wake.clear())
    }
  }

  child.stdin.write(JSON.stringify(INITIALIZE) + '\n')
  const printed = await until('authorization URL', () => /Please authorize this client by visiting:\s+(\S+)/.exec(stderr)?.[1])
  const authorizationUrl = new URL(printed)
  t.equal(`${authorizationUrl.origin}${authorizationUrl.pathname}`, `${stack.adminUrl}/oauth/authorize`, 'it found our authorization endpoint')
  t.equal(authorizationUrl.searchParams.get('resource'), url, 'with the endpoint as resource indicator')
  t.equal(authorizationUrl.searchParams.get('code_challenge_method'), 'S256', 'and PKCE S256')
  await until('browser opener call', () => existsSync(marker) ? readFileSync(marker, 'utf8') : undefined)
  t.pass('it tried to open a browser (a stand-in here)')

  const alice = await stack.idp.sign({ email: 'alice@example.com', name: 'Alice' })
  const { callback, keyId } = await consentAs(stack, new CookieBrowser(), authorizationUrl, alice, { mcpServerIds: ['alpha'] })
  t.match(callback.pathname, /\/oauth\/callback$/, 'the code goes to mcp-remote\'s local callback')
  const delivered = await fetch(callback)
  t.equal(delivered.status, 200, 'mcp-remote took the code')
  await delivered.arrayBuffer()

  const init = await until('initialize answer', () => messages.find(m => m.id === 0))
  t.equal((init.result?.serverInfo as { name?: string } | undefined)?.name, 'mcpgate-test-upstream', 'initialize answered by the upstream through the gateway')
  child.stdin.write(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) + '\n')
  child.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) + '\n')
  const list = await until('tools/list answer', () => messages.find(m => m.id === 1))
  t.same((list.result?.tools as Array<{ name: string }>).map(tool => tool.name).sort(), ['echo', 'notify', 'progress'], 'tools/list')
  child.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'via OAuth ✓' } } }) + '\n')
  const call = await until('tools/call answer', () => messages.find(m => m.id === 2))
  t.same(call.result?.content, [{ type: 'text', text: 'via OAuth ✓' }], 'tools/call')
  t.equal((await stack.store.getKey(keyId))?.name, 'OAuth · MCP CLI Proxy', 'the grant is named after the client name mcp-remote registers with')
  t.ok(stack.upstream.requests.every(r => r.headers.authorization === undefined), 'no token reached the upstream')
  child.stdin.end()
})
