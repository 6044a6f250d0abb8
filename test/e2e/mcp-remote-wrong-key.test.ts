// mcp-remote (the stdio↔HTTP bridge many MCP clients run: `npx mcp-remote <url> --header
// "Authorization: Bearer <key>"`), spawned as a process against the gateway. With a wrong key it
// probes OAuth discovery, tries to register a client at /register, gets our 404, prints our
// message naming the API key and exits by itself — without opening a browser or reaching
// /authorize or /token. With a good key it bridges: initialize, tools/list and tools/call written
// on its stdin are answered on its stdout, and no OAuth is attempted. Its state goes to a temp
// MCP_REMOTE_CONFIG_DIR (and HOME), and every browser opener it could run is a stand-in that only
// records being called.
import t from 'tap'
import type { Test } from 'tap'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { generateKey } from '../../core/key-format.ts'
import { createTestKey, createTestUser, startGateway, testConfig, type TestGateway } from '../helpers/gateway.ts'
import { startMcpUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore, tempDir } from '../helpers/stores.ts'

const MCP_REMOTE = new URL('../../node_modules/mcp-remote/dist/proxy.js', import.meta.url).pathname
/** Failure guards only: a run ends by itself (wrong key) or when its stdin closes (good key). */
const EXIT_BOUND_MS = 30000
const ANSWER_BOUND_MS = 15000

/**
 * Every opener mcp-remote may run for an authorization URL: the `open` package's xdg-open (which
 * honours $BROWSER), then /usr/bin/xdg-open (also $BROWSER), gio, x-www-browser, sensible-browser.
 */
const BROWSER_COMMANDS = ['browser', 'xdg-open', 'gio', 'x-www-browser', 'sensible-browser', 'www-browser', 'firefox', 'chromium', 'google-chrome']

interface JsonRpcAnswer { id?: number, result?: Record<string, unknown>, error?: unknown }

interface Bridge {
  /** Messages mcp-remote wrote on stdout (JSON-RPC to its stdio client). */
  readonly messages: JsonRpcAnswer[]
  stdout (): string
  stderr (): string
  send (message: unknown): void
  endInput (): void
  /** The JSON-RPC answer with this id on stdout (bounded wait). */
  answer (id: number): Promise<JsonRpcAnswer>
  /** Exit code (null when killed by a signal), or 'timeout' past the bound (the process is then killed). */
  exited (boundMs: number): Promise<number | null | 'timeout'>
  /** What the stand-in browser openers recorded ('' when none ran). */
  browserOpened (): string
  /** Files mcp-remote left in its config dir. */
  readonly configDir: string
}

function mcpRemote (t: Test, url: string, authorization: string): Bridge {
  const home = tempDir(t, 'mcpgate-mcp-remote-')
  const bin = join(home, 'bin')
  const configDir = join(home, 'mcp-auth')
  const marker = join(home, 'browser-opened.log')
  mkdirSync(bin)
  for (const name of BROWSER_COMMANDS) {
    writeFileSync(join(bin, name), `#!/bin/sh\necho "$0 $*" >> '${marker}'\n`, { mode: 0o755 })
  }
  // The documented invocation is `npx mcp-remote …`; npx only resolves this same local bin, so the
  // test runs it directly (no npm process in between to outlive a kill).
  const child = spawn(process.execPath, [MCP_REMOTE, url, '--header', authorization], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: {
      PATH: `${bin}:${process.env.PATH ?? ''}`,
      HOME: home,
      BROWSER: join(bin, 'browser'),
      MCP_REMOTE_CONFIG_DIR: configDir
    }
  })
  const exit = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exit
  })

  let stdout = ''
  let stderr = ''
  const messages: JsonRpcAnswer[] = []
  const waiters = new Set<() => void>()
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (d: string) => { stderr += d })
  createInterface({ input: child.stdout }).on('line', line => {
    stdout += line + '\n'
    try {
      messages.push(JSON.parse(line) as JsonRpcAnswer)
    } catch {
      // Not a message (mcp-remote logs to stderr; stdout is the protocol).
    }
    for (const w of waiters) w()
  })

  return {
    messages,
    configDir,
    stdout: () => stdout,
    stderr: () => stderr,
    send (message) { child.stdin.write(JSON.stringify(message) + '\n') },
    endInput () { child.stdin.end() },
    async answer (id) {
      const deadline = Date.now() + ANSWER_BOUND_MS
      for (;;) {
        const found = messages.find(m => m.id === id)
        if (found !== undefined) return found
        if (Date.now() > deadline || child.exitCode !== null) {
          throw new Error(`no answer to id ${id} from mcp-remote\nstdout: ${stdout}\nstderr: ${stderr}`)
        }
        await new Promise<void>(resolve => {
          waiters.add(resolve)
          setTimeout(resolve, 100).unref()
        }).finally(() => waiters.clear())
      }
    },
    async exited (boundMs) {
      let timer: NodeJS.Timeout | undefined
      const bound = new Promise<'timeout'>(resolve => { timer = setTimeout(() => resolve('timeout'), boundMs) })
      const result = await Promise.race([exit, bound])
      clearTimeout(timer)
      if (result === 'timeout') {
        child.kill('SIGKILL')
        await exit
      }
      return result
    },
    browserOpened: () => existsSync(marker) ? readFileSync(marker, 'utf8') : ''
  }
}

/** method + path of every request the gateway logged (its access lines). */
function gatewayRequests (gw: TestGateway): string[] {
  const seen: string[] = []
  for (const line of gw.logs.text().split('\n')) {
    if (!line.startsWith('{')) continue
    const entry = JSON.parse(line) as { msg?: string, method?: string, path?: string, status?: number }
    if (entry.msg === 'access') seen.push(`${entry.method} ${entry.path} ${entry.status}`)
  }
  return seen
}

const INITIALIZE = { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'mcpgate-e2e', version: '1.0.0' } } }

t.test('mcp-remote through the gateway', async t => {
  const upstream = await startMcpUpstream(t)
  const store = await sqliteStore(t)
  const gw = await startGateway(t, { store, config: testConfig({ servers: [{ id: 'up', url: upstream.mcpUrl }] }) })
  const url = gw.mcpUrl('up')

  await t.test('a wrong key: our message naming the API key, an exit by itself, no browser, no /authorize', async t => {
    // Well formed, for a real user, never issued: what a mistyped or stale key looks like.
    const wrong = generateKey((await createTestUser(store)).id).key
    const bridge = mcpRemote(t, url, `Authorization: Bearer ${wrong}`)
    // It starts connecting on its own; a client would send initialize at once.
    bridge.send(INITIALIZE)
    const code = await bridge.exited(EXIT_BOUND_MS)
    t.not(code, 'timeout', `it exits by itself within ${EXIT_BOUND_MS / 1000} s`)
    t.not(code, 0, 'with a failure status')
    const printed = bridge.stderr() + bridge.stdout()
    t.match(printed, 'This gateway takes API keys', 'it prints our message')
    t.match(printed, 'Authorization: Bearer ok1-', 'which names the key header')
    t.match(printed, 'MCPGATE_OAUTH_NOT_ENABLED', "from /register's 404")
    t.notMatch(printed, wrong, 'the key is not echoed back')
    t.equal(bridge.browserOpened(), '', 'no browser opener ran')
    const requests = gatewayRequests(gw)
    t.ok(requests.includes('POST /register 404'), 'it tried to register a client and got our 404')
    t.ok(requests.some(r => r.startsWith('GET /.well-known/oauth-protected-resource')), 'after probing the discovery documents')
    t.notOk(requests.some(r => / \/(authorize|token)\b/.test(r)), 'it never reached an authorization or token endpoint')
    t.notOk(requests.some(r => r.includes('/mcp-connect/up') && r.endsWith(' 200')), 'nothing was served for the wrong key')
    t.equal(upstream.requests.length, 0, 'nothing reached the upstream')
  })

  await t.test('a good key: it connects and bridges initialize, tools/list and tools/call', async t => {
    const { key } = await createTestKey(store)
    const before = gatewayRequests(gw).length
    const bridge = mcpRemote(t, url, `Authorization: Bearer ${key}`)
    bridge.send(INITIALIZE)
    const init = await bridge.answer(0)
    t.equal((init.result?.serverInfo as { name?: string } | undefined)?.name, 'mcpgate-test-upstream', 'initialize answered by the upstream')
    bridge.send({ jsonrpc: '2.0', method: 'notifications/initialized' })
    bridge.send({ jsonrpc: '2.0', id: 1, method: 'tools/list' })
    const list = await bridge.answer(1)
    t.same((list.result?.tools as Array<{ name: string }>).map(tool => tool.name).sort(), ['echo', 'notify', 'progress'], 'tools/list')
    bridge.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'via mcp-remote ✓' } } })
    const call = await bridge.answer(2)
    t.same(call.result?.content, [{ type: 'text', text: 'via mcp-remote ✓' }], 'tools/call')
    bridge.endInput()
    t.equal(await bridge.exited(EXIT_BOUND_MS), 0, 'closing its stdin ends it cleanly')
    t.equal(bridge.browserOpened(), '', 'no browser opener ran')
    const requests = gatewayRequests(gw).slice(before)
    t.notOk(requests.some(r => r.startsWith('POST /register')), 'no client registration was attempted')
    t.ok(requests.some(r => r.startsWith('POST /mcp-connect/up 200')), 'the traffic went through the gateway')
    t.ok(upstream.requests.every(r => r.headers.authorization === undefined), 'the key stayed at the gateway')
  })
})
