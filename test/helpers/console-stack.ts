// Everything the web console tests drive, real and on 127.0.0.1:0: an upstream MCP server, a
// SQLite store, the gateway, the admin API with the console registered on it (built fresh from
// console/ into a temp dir), an OpenID provider, and headless Debian chromium via playwright-core.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import type { Test } from 'tap'
import { build } from 'vite'
import { buildAdmin } from '../../admin-api/app.ts'
import { buildConfig } from '../../config/load.ts'
import type { Config } from '../../config/schema.ts'
import type { Clock } from '../../core/clock.ts'
import type { KeyStore } from '../../core/store/store.ts'
import { buildGateway } from '../../gateway/app.ts'
import { startOidcProvider, type TestAccount, type TestOidcProvider } from './oidc-provider.ts'
import { sqliteStore, tempDir } from './stores.ts'

export const CONSOLE_ADMIN_TOKEN = 'console-test-admin-token-0123456789'
export const CONSOLE_CLIENT_ID = 'mcpgate-console'
export const ADMIN_GROUP = 'mcpgate-admins'
export const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/console/', import.meta.url))
export const DOCS_SCREENSHOTS = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url))
const CONSOLE_DIR = fileURLToPath(new URL('../../console/', import.meta.url))

/** login → account; every account signs in with any password (devInteractions). */
export const ACCOUNTS: Record<string, TestAccount> = {
  alice: { email: 'alice@example.com', name: 'Alice Admin', groups: [ADMIN_GROUP] },
  bob: { email: 'bob@example.com', name: 'Bob Builder', groups: ['engineering'] },
  carol: { email: 'carol@example.com', name: 'Carol Support', groups: ['support'] }
}

/** docs: everyone; tickets: the support group; vault: admins only. */
const SERVERS = (upstream: string) => [
  { id: 'docs', name: 'Docs', description: 'Search the product documentation', url: upstream, access: 'everyone' },
  { id: 'tickets', name: 'Tickets', description: 'Read and update support tickets', url: upstream, access: { groups: ['support'] } },
  { id: 'vault', name: 'Vault', description: 'Secrets inventory (admins)', url: upstream, access: { roles: ['admin'] } }
]

/** An MCP server (Streamable HTTP, stateless) with one tool, `whoami`, that answers "pong". */
async function startUpstream (t: Test): Promise<string> {
  const server = createServer((req, res) => {
    const mcp = new McpServer({ name: 'console-test-upstream', version: '1.0.0' })
    mcp.registerTool('ping', { description: 'Answers pong' }, async () => ({ content: [{ type: 'text', text: 'pong' }] }))
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true })
    res.on('close', () => { transport.close().catch(() => {}); mcp.close().catch(() => {}) })
    mcp.connect(transport)
      .then(() => transport.handleRequest(req, res))
      .catch(() => { if (!res.headersSent) res.writeHead(500).end() })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => { server.closeAllConnections(); server.close(() => resolve()) }))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`
}

/** `vite build console` into a temp dir, so a test always serves the sources it runs with. */
export async function buildConsole (t: Test): Promise<string> {
  const outDir = join(tempDir(t, 'mcpgate-console-'), 'dist')
  await build({
    root: CONSOLE_DIR,
    configFile: join(CONSOLE_DIR, 'vite.config.ts'),
    logLevel: 'silent',
    build: { outDir, emptyOutDir: true }
  })
  return outDir
}

function url (app: FastifyInstance): string {
  const address = app.server.address() as AddressInfo
  return `http://127.0.0.1:${address.port}`
}

export interface ConsoleStack {
  idp: TestOidcProvider
  store: KeyStore
  adminUrl: string
  gatewayUrl: string
  config: Readonly<Config>
}

export interface StackOptions {
  /** false: no OIDC in the admin config (token sign-in only). */
  oidc?: boolean
  lastUsedFlushMs?: number
  /** Merged into config.admin (e.g. maxKeyLifetimeDays). */
  admin?: Record<string, unknown>
  /** The configured servers instead of docs, tickets and vault on the one-tool upstream (given its URL). */
  servers?: (upstream: string) => unknown[]
  /** Merged into config.audit (e.g. a short flushMs, so the gateway's events reach the store soon). */
  audit?: Record<string, unknown>
  /** Merged into config.gateway of both services (e.g. limits: the admin API reads them for usage too). */
  gateway?: Record<string, unknown>
  /** The clock of both services (default: wall time). */
  clock?: Clock
  /** Config.oauth of both services (OAuth mode: e.g. `{ enabled: true }`). */
  oauth?: Record<string, unknown>
}

export async function startConsoleStack (t: Test, opts: StackOptions = {}): Promise<ConsoleStack> {
  const [consoleRoot, upstream, idp, store] = await Promise.all([
    buildConsole(t),
    startUpstream(t),
    startOidcProvider(t, ACCOUNTS),
    sqliteStore(t, { pollMs: 10 })
  ])
  const base = {
    hashing: { memoryCost: 1024, timeCost: 1, parallelism: 1 },
    log: { level: 'silent', accessLog: false },
    servers: (opts.servers ?? SERVERS)(upstream),
    ...(opts.audit === undefined ? {} : { audit: opts.audit }),
    ...(opts.oauth === undefined ? {} : { oauth: opts.oauth })
  }

  const gatewayConfig = buildConfig({
    ...base,
    gateway: { ...opts.gateway, host: '127.0.0.1', port: 0, lastUsedFlushMs: opts.lastUsedFlushMs ?? 100 },
    // OAuth mode needs admin.oidc in the (shared) config; the gateway reads nothing of it.
    ...(opts.oauth === undefined ? {} : { admin: { oidc: { issuer: idp.issuer, audience: CONSOLE_CLIENT_ID } } })
  })
  const gateway = await buildGateway(gatewayConfig, { store, logger: { level: 'silent' }, ...(opts.clock === undefined ? {} : { clock: opts.clock }) })
  t.teardown(() => gateway.close())
  await gateway.listen({ host: '127.0.0.1', port: 0 })
  const gatewayUrl = url(gateway)

  const config = buildConfig({
    ...base,
    gateway: { ...opts.gateway, host: '127.0.0.1', port: 0, publicUrl: gatewayUrl },
    admin: {
      host: '127.0.0.1',
      port: 0,
      token: CONSOLE_ADMIN_TOKEN,
      ...(opts.oidc === false
        ? {}
        // The console sends the ID token, whose audience is the client id.
        : { oidc: { issuer: idp.issuer, audience: CONSOLE_CLIENT_ID, clientId: CONSOLE_CLIENT_ID, adminGroups: [ADMIN_GROUP] } }),
      ...opts.admin
    }
  })
  const admin = await buildAdmin(config, { store, logger: pino({ level: 'silent' }), console: { root: consoleRoot }, ...(opts.clock === undefined ? {} : { clock: opts.clock }) })
  t.teardown(() => admin.close())
  await admin.listen({ host: '127.0.0.1', port: 0 })
  const adminUrl = url(admin)

  if (opts.oauth !== undefined) {
    // On port 0 the authorization server publishes its issuer (this address) just after listen.
    const deadline = Date.now() + 5000
    while (await store.getRecord('oauth:issuer') === null) {
      if (Date.now() > deadline) throw new Error('the authorization server never published its issuer')
      await new Promise(resolve => setTimeout(resolve, 5))
    }
  }
  idp.addClient({
    client_id: CONSOLE_CLIENT_ID,
    application_type: 'web',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [`${adminUrl}/`]
  })
  return { idp, store, adminUrl, gatewayUrl, config }
}

/** Headless Debian chromium; Playwright gives every launch a fresh temporary --user-data-dir. */
export async function launchBrowser (t: Test): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    timeout: 30_000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-quic']
  })
  t.teardown(() => browser.close())
  return browser
}

export interface BrowserPage {
  context: BrowserContext
  page: Page
  /** Uncaught page errors and CSP violations seen so far: a clean console has none. */
  problems: string[]
}

/** A fresh context (its own cookies and sessionStorage: one user) with clipboard access. */
export async function newPage (browser: Browser, adminUrl: string, viewport = { width: 1280, height: 800 }): Promise<BrowserPage> {
  const context = await browser.newContext({ viewport, baseURL: adminUrl })
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: adminUrl })
  const page = await context.newPage()
  page.setDefaultTimeout(15_000)
  const problems: string[] = []
  page.on('pageerror', err => problems.push(`pageerror: ${err.message}`))
  page.on('console', msg => {
    if (msg.type() === 'error' && /Content Security Policy|Refused to/i.test(msg.text())) problems.push(`csp: ${msg.text()}`)
  })
  return { context, page, problems }
}

/** Console → "Sign in with single sign-on" → the IdP's login form → back in the console. */
export async function signInWithOidc (page: Page, login: string): Promise<void> {
  await page.goto('/')
  await page.getByRole('button', { name: 'Sign in with single sign-on' }).click()
  await page.locator('input[name="login"]').fill(login)
  await page.locator('input[name="password"]').fill('any-password')
  await page.locator('button[type="submit"]').click()
  await page.getByRole('button', { name: /^Account menu for / }).waitFor()
}

/**
 * Saves test-artifacts/console/<name>.png. With `docs`, also docs/screenshots/console-<name>.png
 * for the README, but only when that file is missing: ports and times differ on every run, and a
 * test run must not leave tracked files modified (delete the file to refresh it).
 */
export async function screenshot (page: Page, name: string, opts: { docs?: boolean, fullPage?: boolean } = {}): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true })
  const path = join(ARTIFACTS, `${name}.png`)
  await page.screenshot({ path, fullPage: opts.fullPage ?? false })
  const docsPath = join(DOCS_SCREENSHOTS, `console-${name}.png`)
  if (opts.docs === true && !existsSync(docsPath)) {
    mkdirSync(DOCS_SCREENSHOTS, { recursive: true })
    copyFileSync(path, docsPath)
  }
}
