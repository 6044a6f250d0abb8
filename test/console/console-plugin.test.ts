// registerConsole on the admin API: the built console is served with a strict CSP (no inline
// script, nothing from other origins), /console-config.json says where to sign in and which
// gateway URL to print, and the API's own routes, auth and 404s are untouched.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { test, type Test } from 'tap'
import { buildAdmin } from '../../admin-api/app.ts'
import { consoleConfig, consoleRootFor, DEFAULT_CONSOLE_ROOT, registerConsole } from '../../admin-api/console.ts'
import { buildConfig } from '../../config/load.ts'
import { buildConsole } from '../helpers/console-stack.ts'
import { sqliteStore, tempDir } from '../helpers/stores.ts'

const ISSUER = 'https://idp.example.com/realms/main'

function configWith (extra: Record<string, unknown> = {}) {
  return buildConfig({
    admin: { token: 'plugin-test-admin-token-0123456789', oidc: { issuer: ISSUER, audience: 'mcpgate', clientId: 'mcpgate-console' } },
    gateway: { host: '0.0.0.0', port: 8443 },
    servers: [{ id: 'docs', url: 'http://127.0.0.1:9/mcp' }],
    log: { level: 'silent' },
    ...extra
  })
}

test('the console config names the issuer, the public client and the gateway URL', async t => {
  t.same(consoleConfig(configWith()), {
    oidc: { issuer: ISSUER, clientId: 'mcpgate-console', scopes: ['openid', 'profile', 'email'], audience: 'mcpgate' },
    gatewayUrl: 'http://127.0.0.1:8443'
  }, 'without publicUrl: http://host:port (a wildcard host becomes loopback)')
  t.equal(consoleConfig(configWith({ gateway: { publicUrl: 'https://mcp.example.com/' } })).gatewayUrl, 'https://mcp.example.com', 'publicUrl wins, without a trailing slash')
  t.equal(consoleConfig(configWith({ admin: { oidc: { issuer: ISSUER, audience: 'mcpgate' } } })).oidc, null, 'no clientId: no single sign-on, token only')
})

/** A discovery document whose token endpoint lives on another origin (as Google's does). */
async function discoveryServer (t: Test): Promise<{ issuer: string, tokenOrigin: string }> {
  const server = createServer((req, res) => {
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    if (req.url !== '/.well-known/openid-configuration') return res.writeHead(404).end()
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ issuer, authorization_endpoint: `${issuer}/auth`, token_endpoint: 'http://localhost:9/token' }))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => server.close(() => resolve())))
  return { issuer: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, tokenOrigin: 'http://localhost:9' }
}

test('the built console is served under a strict CSP next to the untouched API', async t => {
  const root = await buildConsole(t)
  const idp = await discoveryServer(t)
  const config = configWith({ admin: { token: 'plugin-test-admin-token-0123456789', oidc: { issuer: idp.issuer, audience: 'mcpgate', clientId: 'mcpgate-console' } } })
  const admin = await buildAdmin(config, { store: await sqliteStore(t), logger: pino({ level: 'silent' }), console: false })
  t.teardown(() => admin.close())
  await registerConsole(admin, config, { root })

  const page = await admin.inject({ method: 'GET', url: '/' })
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /^text\/html/)
  const csp = String(page.headers['content-security-policy'])
  t.match(csp, /default-src 'self'/)
  t.match(csp, /script-src 'self'(;|$)/, 'scripts from this origin only: no inline, no eval, no CDN')
  t.match(csp, /style-src 'self'(;|$)/)
  t.ok(csp.split('; ').includes(`connect-src 'self' ${idp.issuer} ${idp.tokenOrigin}`),
    'fetch() may reach the issuer (discovery) and the token endpoint\'s origin, and nothing else')
  t.match(csp, /frame-ancestors 'none'/)
  t.equal(page.headers['referrer-policy'], 'no-referrer', 'the OIDC code never leaks in a Referer')
  t.equal(page.headers['x-content-type-options'], 'nosniff')
  t.equal(page.headers['cache-control'], 'no-cache')

  // The page itself: module scripts by URL only, and no other origin anywhere.
  t.notMatch(page.body, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline <script>')
  t.notMatch(page.body, /\bstyle=/, 'no inline style attributes')
  t.notMatch(page.body, /https?:\/\//, 'no absolute URLs (no CDN, no web fonts)')
  const assets = readdirSync(join(root, 'assets'))
  const css = assets.find(f => f.endsWith('.css'))
  t.ok(css !== undefined && !/https?:\/\/|@import|url\(/.test(readFileSync(join(root, 'assets', css), 'utf8')), 'the stylesheet loads nothing else')
  const js = assets.find(f => f.endsWith('.js')) as string
  const asset = await admin.inject({ method: 'GET', url: `/assets/${js}` })
  t.equal(asset.statusCode, 200)
  t.match(asset.headers['cache-control'], /immutable/, 'hashed assets are cached for good')
  t.ok(asset.headers['content-security-policy'] !== undefined)

  const cfg = await admin.inject({ method: 'GET', url: '/console-config.json' })
  t.equal(cfg.statusCode, 200)
  t.same(cfg.json(), consoleConfig(config), 'console-config.json is public (no token needed)')

  // The API keeps its own behaviour.
  t.equal((await admin.inject({ method: 'GET', url: '/api/me' })).statusCode, 401, '/api still requires a token')
  const missing = await admin.inject({ method: 'GET', url: '/api/nope' })
  t.equal(missing.statusCode, 404)
  t.equal(missing.json().code, 'MCPGATE_ROUTE_NOT_FOUND', 'unknown API routes still answer the JSON 404')
  t.equal((await admin.inject({ method: 'GET', url: '/openapi.json' })).statusCode, 200, 'the OpenAPI document is not shadowed')
  writeFileSync(join(root, '.env'), 'SECRET=1\n')
  const dotfile = await admin.inject({ method: 'GET', url: '/.env' })
  t.not(dotfile.statusCode, 200, 'dotfiles next to the console are not served')
  t.notMatch(dotfile.body, /SECRET/)
})

test('without a build the admin API still starts and / explains how to build the console', async t => {
  const config = configWith({ admin: { token: 'plugin-test-admin-token-0123456789' } })
  const admin = await buildAdmin(config, { store: await sqliteStore(t), logger: pino({ level: 'silent' }), console: false })
  t.teardown(() => admin.close())
  await registerConsole(admin, config, { root: tempDir(t) })
  const res = await admin.inject({ method: 'GET', url: '/' })
  t.equal(res.statusCode, 503)
  t.match(res.body, /npm run build/)
  t.equal((await admin.inject({ method: 'GET', url: '/console-config.json' })).statusCode, 200)
})

test('the console is found at the repository root from the sources and from the compiled dist/', async t => {
  const repo = new URL('../../', import.meta.url)
  const expected = fileURLToPath(new URL('console/dist/', repo))
  t.equal(DEFAULT_CONSOLE_ROOT, expected)
  t.equal(consoleRootFor(new URL('admin-api/console.ts', repo).href), expected, 'sources')
  t.equal(consoleRootFor(new URL('dist/admin-api/console.js', repo).href), expected, 'compiled (npm run build)')
})
