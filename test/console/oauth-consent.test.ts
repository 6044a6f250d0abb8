// OAuth mode in a real browser: an MCP client (the official SDK's auth() with an
// OAuthClientProvider) sends the user to authorize; the browser signs in through the IdP
// (oidc-provider), lands on the console's consent page, which names the client and its redirect
// host; the user keeps the requested server, narrows it to one tool and allows; the client gets
// its code, exchanges it and lists exactly that tool through the gateway. The grant is then on the
// API Keys page as "OAuth · ChatGPT" with an OAuth badge and no Rotate; revoking it there refuses
// the client's token at the gateway.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'tap'
import { auth } from '@modelcontextprotocol/sdk/client/auth.js'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { launchBrowser, newPage, screenshot, startConsoleStack } from '../helpers/console-stack.ts'
import { startCatalogUpstream } from '../helpers/mcp-catalog-upstream.ts'
import { TestOAuthClient } from '../helpers/oauth-stack.ts'

test('consent in the console: sign in, pick a tool, allow; the grant listed and revoked like a key', async t => {
  const upstream = await startCatalogUpstream(t)
  const stack = await startConsoleStack(t, {
    oauth: { enabled: true },
    servers: () => [
      { id: 'docs', name: 'Docs', description: 'Search the product documentation', url: upstream.mcpUrl },
      { id: 'tickets', name: 'Tickets', description: 'Read and update support tickets', url: upstream.mcpUrl }
    ]
  })
  const endpoint = `${stack.gatewayUrl}/mcp-connect/docs`
  // The client's redirect URI: a real server, where the browser lands with the code.
  const landing = createServer((_req, res) => { res.writeHead(200, { 'content-type': 'text/plain' }).end('back at the client') })
  await new Promise<void>(resolve => landing.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => { landing.closeAllConnections(); landing.close(() => resolve()) }))
  const landingHost = `127.0.0.1:${(landing.address() as AddressInfo).port}`
  const client = new TestOAuthClient({ name: 'ChatGPT', redirectUrl: `http://${landingHost}/callback` })
  t.equal(await auth(client, { serverUrl: endpoint }), 'REDIRECT', 'the client sends the user to authorize')

  const browser = await launchBrowser(t)
  const { page, problems } = await newPage(browser, stack.adminUrl)

  await page.goto(String(client.authorizationUrl))
  await page.getByRole('button', { name: 'Sign in with single sign-on' }).click()
  await page.locator('input[name="login"]').fill('bob')
  await page.locator('input[name="password"]').fill('any-password')
  await page.locator('button[type="submit"]').click()

  await page.getByRole('heading', { name: 'Allow ChatGPT?' }).waitFor()
  t.match(page.url(), /#\/oauth\/consent\?uid=/, 'back on the consent page after signing in')
  t.equal(await page.locator('[data-field="client"]').textContent(), 'ChatGPT', 'the client is named')
  t.equal(await page.locator('[data-field="redirect-host"]').textContent(), landingHost, 'with the host it sends the grant to')
  const docs = page.getByRole('checkbox', { name: /^Docs/ })
  t.ok(await docs.isChecked(), 'the requested server is chosen')
  t.ok(await docs.isDisabled(), 'and cannot be left out (the token is for it)')
  t.notOk(await page.getByRole('checkbox', { name: /^Tickets/ }).isChecked(), 'other servers are not')

  const picker = page.getByRole('group', { name: 'What Docs may use' })
  await picker.getByRole('radio', { name: /^Only some/ }).check()
  const tools = picker.getByRole('group', { name: 'Tools' })
  await tools.getByRole('checkbox', { name: /^search_issues/ }).check()
  await screenshot(page, 'oauth-consent', { docs: true })

  const back = page.waitForURL(url => url.host === landingHost && url.pathname === '/callback')
  await page.getByRole('button', { name: 'Allow' }).click()
  await back
  const callback = new URL(page.url())
  t.equal(callback.searchParams.get('iss'), stack.adminUrl, 'the authorization response carries iss')
  const code = callback.searchParams.get('code')
  t.ok(code, 'and a code')
  t.equal(await auth(client, { serverUrl: endpoint, authorizationCode: code as string }), 'AUTHORIZED')

  const mcp = new Client({ name: 'chatgpt-like', version: '1' })
  await mcp.connect(new StreamableHTTPClientTransport(new URL(endpoint), { authProvider: client }))
  t.teardown(() => mcp.close())
  t.same((await mcp.listTools()).tools.map(tool => tool.name), ['search_issues'], 'the client sees the one tool allowed')

  await page.goto(`${stack.adminUrl}/#/keys`)
  const row = page.getByRole('row', { name: /OAuth · ChatGPT/ })
  await row.waitFor()
  t.equal(await row.locator('[data-flag="oauth"]').textContent(), 'OAuth', 'listed with an OAuth badge')
  t.match(await row.getByRole('button', { name: /servers|server/ }).first().textContent() ?? '', /1 server · 1 tool/, 'its reach as a key\'s')
  await screenshot(page, 'oauth-grant-listed', { docs: true })
  await row.getByRole('link', { name: 'OAuth · ChatGPT' }).click()
  const clientRow = page.locator('dt', { hasText: 'OAuth client' })
  await clientRow.waitFor()
  t.match(await page.locator('dt:has-text("OAuth client") + dd').textContent() ?? '', `ChatGPT (sends to ${landingHost})`, 'its detail view names the client')
  t.equal(await page.getByRole('button', { name: 'Rotate' }).count(), 0, 'and offers no Rotate')
  t.equal(await page.getByRole('button', { name: 'Revoke' }).count(), 1, 'but Revoke')
  await page.goto(`${stack.adminUrl}/#/keys`)
  await row.waitFor()
  await row.getByRole('button', { name: 'Actions for API key OAuth · ChatGPT' }).click()
  t.equal(await page.getByRole('menuitem', { name: 'Rotate' }).count(), 0, 'a grant cannot be rotated')
  await page.getByRole('menuitem', { name: 'Revoke' }).click()
  const confirm = page.getByRole('dialog', { name: 'Delete API key' })
  await confirm.getByRole('button', { name: 'Delete API key' }).click()
  await row.waitFor({ state: 'detached' })

  const res = await fetch(endpoint, {
    method: 'POST',
    headers: { authorization: `Bearer ${client.saved?.access_token as string}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' })
  })
  t.equal(res.status, 401, 'revoked in the console: the client\'s token is refused')
  await res.arrayBuffer()
  t.same(problems, [], 'no page errors or CSP violations')
})
