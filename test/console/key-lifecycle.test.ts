// The console's main path, end to end in a real browser: sign in with OIDC (code + PKCE) → create
// a key scoped to one server → copy it → an MCP SDK client uses it through the gateway → Last Used
// updates → delete it in the console → the gateway refuses it.
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { setTimeout as delay } from 'node:timers/promises'
import { test } from 'tap'
import { launchBrowser, newPage, screenshot, signInWithOidc, startConsoleStack } from '../helpers/console-stack.ts'

async function initializeStatus (gatewayUrl: string, serverId: string, key: string): Promise<number> {
  const res = await fetch(`${gatewayUrl}/mcp-connect/${serverId}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } })
  })
  await res.arrayBuffer()
  return res.status
}

test('a user creates, uses and deletes an API key in the console', async t => {
  const stack = await startConsoleStack(t, { lastUsedFlushMs: 100 })
  const browser = await launchBrowser(t)
  const { page, problems } = await newPage(browser, stack.adminUrl)

  // carol (group support) reaches docs and tickets, not vault.
  await signInWithOidc(page, 'carol')
  t.equal(await page.evaluate(() => localStorage.length), 0, 'nothing is stored in localStorage')
  t.ok(await page.evaluate(() => sessionStorage.getItem('mcpgate.session') !== null), 'the session lives in sessionStorage')
  t.equal(new URL(page.url()).search, '', 'the authorization code is removed from the address bar')

  await page.getByRole('heading', { name: 'No API keys yet' }).waitFor()
  await screenshot(page, 'api-keys-empty')

  await page.getByRole('button', { name: 'Create API key' }).first().click()
  const dialog = page.getByRole('dialog', { name: 'Create API key' })
  await dialog.waitFor()
  const serverOptions = await dialog.locator('.server-options label .option-name').allTextContents()
  t.same(serverOptions, ['Docs', 'Tickets'], 'only the servers carol can reach are offered')
  await dialog.getByLabel('Name').fill('Support laptop')
  await dialog.getByLabel('Description').fill('Claude Code on the support laptop')
  await dialog.getByRole('checkbox', { name: /^Tickets/ }).check()
  await screenshot(page, 'create-key-form')
  await dialog.getByRole('button', { name: 'Create API key' }).click()

  const created = page.getByRole('dialog', { name: 'API key created' })
  await created.waitFor()
  const key = await created.getByLabel(/^API key/).inputValue()
  t.match(key, /^ok1-[A-Za-z0-9]+-[A-Za-z0-9]{16}-[A-Za-z0-9]{46}$/, 'the full key is shown')
  t.match(await created.textContent(), /cannot be shown again/, 'with a warning that it is shown once')
  await created.getByRole('button', { name: 'Copy key' }).click()
  t.equal(await page.evaluate(() => navigator.clipboard.readText()), key, 'Copy key puts the key on the clipboard')

  const claude = await created.getByRole('tabpanel').locator('code').textContent()
  t.equal(claude, `claude mcp add --transport http tickets ${stack.gatewayUrl}/mcp-connect/tickets --header "Authorization: Bearer ${key}"`,
    'a ready-to-paste Claude Code command for the chosen server')
  await created.getByRole('tab', { name: 'VS Code' }).click()
  const vscode = JSON.parse(await created.getByRole('tabpanel').locator('code').textContent() ?? '') as { servers: Record<string, { url: string, headers: Record<string, string> }> }
  t.same(Object.keys(vscode.servers), ['tickets'], 'VS Code mcp.json lists the chosen server only')
  t.equal(vscode.servers.tickets?.headers.Authorization, `Bearer ${key}`)
  await created.getByRole('tab', { name: 'Claude Code' }).click()
  await screenshot(page, 'create-key-created', { docs: true })
  await created.getByRole('button', { name: 'Done' }).click()
  await created.waitFor({ state: 'detached' })

  const row = page.getByRole('row', { name: /Support laptop/ })
  await row.waitFor()
  t.equal(await row.locator('.server-count').getAttribute('title'), 'Tickets', 'the server names show on hover')
  t.match(await row.locator('td[data-label="Servers"]').textContent(), /^1 server/, 'the Servers column counts')
  t.equal(await row.locator('td[data-label="Last Used"]').textContent(), 'Never')
  t.equal(await row.locator('td[data-label="Expires"]').textContent(), 'Never')

  // The key works through the gateway for the server it is scoped to, and only that one.
  const client = new Client({ name: 'console-test', version: '1.0.0' })
  const transport = new StreamableHTTPClientTransport(new URL(`${stack.gatewayUrl}/mcp-connect/tickets`), {
    requestInit: { headers: { authorization: `Bearer ${key}` } }
  })
  await client.connect(transport)
  const result = await client.callTool({ name: 'ping', arguments: {} })
  t.same(result.content, [{ type: 'text', text: 'pong' }], 'an MCP client reaches the upstream with the key')
  await client.close()
  t.equal(await initializeStatus(stack.gatewayUrl, 'docs', key), 404, 'the key is refused for a server outside its scope (as if it did not exist)')

  // lastUsedAt is flushed in batches (every 100 ms here): reload until the console shows it.
  const deadline = Date.now() + 15_000
  let lastUsed = 'Never'
  while (lastUsed === 'Never' && Date.now() < deadline) {
    await delay(100)
    await page.reload()
    lastUsed = (await page.getByRole('row', { name: /Support laptop/ }).locator('td[data-label="Last Used"]').textContent()) ?? 'Never'
  }
  t.not(lastUsed, 'Never', `Last Used shows the use (${lastUsed})`)
  await screenshot(page, 'api-keys', { docs: true })

  await page.getByRole('button', { name: 'Actions for API key Support laptop' }).click()
  await page.getByRole('menuitem', { name: 'Delete' }).click()
  const confirm = page.getByRole('dialog', { name: 'Delete API key' })
  t.match(await confirm.textContent(), /“Support laptop”/, 'the confirmation names the key')
  await screenshot(page, 'delete-key-confirm')
  await confirm.getByRole('button', { name: 'Delete API key' }).click()
  await confirm.waitFor({ state: 'detached' })
  await page.getByRole('heading', { name: 'No API keys yet' }).waitFor()
  t.equal(await page.getByRole('row', { name: /Support laptop/ }).count(), 0, 'the key is gone from the table')

  // Deletion is pushed to the gateway's cache through the store's invalidation log.
  let status = 0
  const refusedBy = Date.now() + 5_000
  while (status !== 401 && Date.now() < refusedBy) {
    status = await initializeStatus(stack.gatewayUrl, 'tickets', key)
    if (status !== 401) await delay(25)
  }
  t.equal(status, 401, 'the gateway refuses the deleted key')
  t.same(problems, [], 'no page errors or CSP violations')
})
