// Service accounts in a real browser (issue 26), at 1024 px: an admin creates one from the Users
// page (a missing name is shown on the Name field, as the API words it), filters the Users page by
// kind (kept in the address), creates a key for it from its ⋮ menu — offered only the servers its
// groups reach, shown once — that works at the gateway; its owner reads "CI bot (service
// account)", never "CI bot ()", on All API Keys, the key's detail view and the Audit page; a key
// for a person is made the same way; then the account is deleted: the confirmation counts its
// keys, and the gateway refuses the key afterwards. At 390 px the page and the dialog fit.
import { setTimeout as delay } from 'node:timers/promises'
import { test } from 'tap'
import type { Page } from 'playwright-core'
import type { UserView } from '../../admin-api/schemas.ts'
import { CONSOLE_ADMIN_TOKEN, launchBrowser, newPage, screenshot, signInWithOidc, startConsoleStack } from '../helpers/console-stack.ts'

/** An MCP initialize through the gateway with `key`; the HTTP status. */
async function initializeStatus (gatewayUrl: string, serverId: string, key: string): Promise<number> {
  const res = await fetch(`${gatewayUrl}/mcp-connect/${serverId}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } })
  })
  await res.arrayBuffer()
  return res.status
}

/** The gateway learns of a deletion through the store's invalidation log: poll until `want`. */
async function statusBecomes (gatewayUrl: string, serverId: string, key: string, want: number): Promise<number> {
  let status = 0
  for (const deadline = Date.now() + 5_000; Date.now() < deadline; await delay(25)) {
    status = await initializeStatus(gatewayUrl, serverId, key)
    if (status === want) break
  }
  return status
}

async function users (adminUrl: string, query = ''): Promise<UserView[]> {
  const res = await fetch(`${adminUrl}/api/users${query}`, { headers: { authorization: `Bearer ${CONSOLE_ADMIN_TOKEN}` } })
  return (await res.json() as { items: UserView[] }).items
}

/** No page-wide horizontal scroll: the document is as wide as the viewport. */
async function pageOverflow (page: Page): Promise<number> {
  return await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)
}

test('an admin creates a service account, gives it a key and deletes it with its key', async t => {
  const stack = await startConsoleStack(t, { audit: { flushMs: 20 } })
  const browser = await launchBrowser(t)
  const { page, problems } = await newPage(browser, stack.adminUrl, { width: 1024, height: 800 })
  await signInWithOidc(page, 'alice')
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click()
  await page.getByRole('heading', { level: 1, name: 'Users' }).waitFor()

  // The dialog: no name and no email is refused by the API, which names the field.
  await page.getByRole('button', { name: 'New service account' }).click()
  const dialog = page.getByRole('dialog', { name: 'New service account' })
  await dialog.getByLabel('Groups').fill('support, ci')
  await dialog.getByRole('button', { name: 'Create service account' }).click()
  const nameError = dialog.locator('#service-name-error')
  await nameError.waitFor()
  t.equal(await nameError.textContent(), 'Name is required for a service account without an email.', 'the API\'s refusal in words, on the Name field')
  t.equal(await dialog.getByLabel('Name').getAttribute('aria-invalid'), 'true', 'the field is marked invalid')
  t.equal(await page.evaluate(() => document.activeElement?.id), 'service-name', 'the focus goes to it')
  t.match(await dialog.getByLabel('Name').getAttribute('aria-describedby'), /service-name-error/, 'and the error is read with it')
  t.same((await users(stack.adminUrl, '?kind=service')), [], 'nothing was created')

  await dialog.getByLabel('Name').fill('CI bot')
  await dialog.getByRole('button', { name: 'Create service account' }).click()
  await dialog.waitFor({ state: 'detached' })
  t.equal(await page.evaluate(() => document.activeElement?.textContent), 'New service account', 'the focus returns to the button that opened the dialog')
  const botRow = page.getByRole('row', { name: /CI bot/ })
  await botRow.waitFor()
  t.equal(await botRow.locator('td[data-label="Kind"]').textContent(), 'Service account', 'its kind, in words')
  t.equal(await botRow.locator('td[data-label="Email"]').textContent(), '—', 'no email: a dash')
  t.equal(await botRow.locator('td[data-label="Groups"]').textContent(), 'support, ci')
  t.equal(await page.getByRole('row', { name: /Alice Admin/ }).locator('td[data-label="Kind"]').textContent(), 'Person')
  const [bot] = await users(stack.adminUrl, '?kind=service')
  t.match(bot, { kind: 'service', name: 'CI bot', email: '', role: 'user', groups: ['support', 'ci'] }, 'the API holds it')
  await screenshot(page, 'users', { docs: true })
  if (bot === undefined) return

  // The filter, in the address; the list is read again with ?kind=.
  const names = () => page.locator('td[data-label="Name"]').allTextContents()
  await page.getByLabel('Show').focus()
  await page.getByLabel('Show').selectOption({ label: 'Service accounts' })
  await page.getByRole('row', { name: /Alice Admin/ }).waitFor({ state: 'detached' })
  t.same(await names(), ['CI bot'], 'Service accounts: only them')
  t.equal(new URL(page.url()).hash, '#/admin/users?kind=service', 'kept in the address')
  t.equal(await page.evaluate(() => document.activeElement?.id), 'kind-filter', 'the focus stays on the filter')
  await screenshot(page, 'admin-users-service-accounts')
  await page.getByLabel('Show').selectOption({ label: 'People' })
  await page.getByRole('row', { name: /CI bot/ }).waitFor({ state: 'detached' })
  t.same(await names(), ['Alice AdminYou'], 'People: no service account')
  t.equal(new URL(page.url()).hash, '#/admin/users?kind=human')
  await page.goto('/#/admin/users?kind=service')
  await page.getByRole('row', { name: /CI bot/ }).waitFor()
  t.same(await names(), ['CI bot'], 'a linked filter opens filtered')
  t.equal(await page.getByLabel('Show').inputValue(), 'service', 'with the filter set')

  // A key for it: the servers its groups reach (docs: everyone; tickets: support), not the admin's (vault).
  await page.getByRole('button', { name: 'Actions for service account CI bot' }).click()
  t.equal(await page.getByRole('menuitem', { name: 'Make admin' }).count(), 0, 'a service account is never offered admin')
  await page.getByRole('menuitem', { name: 'Create API key' }).click()
  const create = page.getByRole('dialog', { name: 'Create API key for CI bot' })
  await create.waitFor()
  const offered = await create.locator('.server-options .option-name').allTextContents()
  t.same(offered, ['Docs', 'Tickets'], 'only what the account reaches is offered (not Vault, which the admin reaches)')
  t.match(await create.locator('label[for="key-servers-all"]').textContent(), /Every server CI bot can reach/)
  await create.getByLabel('Name').fill('pipeline')
  await create.getByRole('checkbox', { name: /^Tickets/ }).check()
  await create.getByRole('button', { name: 'Create API key' }).click()
  const shown = page.getByRole('dialog', { name: 'API key created' })
  await shown.waitFor()
  t.match(await shown.locator('.owner-note').textContent(), /service account CI bot/, 'the one-time view says whose key it is')
  const key = await shown.getByLabel(/^API key/).inputValue()
  t.match(key, /^ok1-/, 'the full key, once')
  t.match(await shown.locator('[role="tabpanel"]:not([hidden]) code').textContent(), /mcp-connect\/tickets/, 'with snippets for its server')
  await shown.getByRole('button', { name: 'Done' }).click()
  await shown.waitFor({ state: 'detached' })
  t.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Actions for service account CI bot', 'the focus returns to the row\'s menu')

  t.equal(await initializeStatus(stack.gatewayUrl, 'tickets', key), 200, 'the key works at the gateway')
  t.equal(await initializeStatus(stack.gatewayUrl, 'docs', key), 404, 'for its server only')

  // Its owner, wherever a key's owner is shown: never "CI bot ()".
  await page.goto('/#/admin/keys')
  const keyRow = page.getByRole('row', { name: /pipeline/ })
  await keyRow.waitFor()
  t.same(await keyRow.locator('td[data-label="User"] .user-cell > *').allTextContents(), ['CI bot', 'Service account'], 'All API Keys: its name and kind, no empty email line')
  await keyRow.getByRole('link', { name: 'pipeline' }).click()
  await page.getByRole('heading', { level: 1, name: 'pipeline' }).waitFor()
  t.equal(await page.locator('dt:has-text("Owner") + dd').textContent(), 'CI bot (service account)', 'the key\'s detail view')
  await page.goto(`/#/admin/audit?userId=${bot.id}`)
  const owners = page.locator('.event-user')
  await owners.first().waitFor()
  t.same([...new Set(await owners.allTextContents())], ['CI bot (service account)'], 'the Audit page')

  // A key for a person, the same way: offered what they reach (bob: docs only).
  const bob = await fetch(`${stack.adminUrl}/api/users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${CONSOLE_ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'bob@example.com', name: 'Bob Builder', groups: ['engineering'] })
  })
  t.equal(bob.status, 201)
  await page.goto('/#/admin/users?kind=human')
  await page.getByRole('button', { name: 'Actions for user Bob Builder (bob@example.com)' }).click()
  await page.getByRole('menuitem', { name: 'Create API key' }).click()
  const forBob = page.getByRole('dialog', { name: 'Create API key for Bob Builder' })
  t.same(await forBob.locator('.server-options .option-name').allTextContents(), ['Docs'], 'only the servers Bob reaches')
  await forBob.getByLabel('Name').fill('Bob laptop')
  await forBob.getByRole('checkbox', { name: /^All MCP servers/ }).check()
  await forBob.getByRole('button', { name: 'Create API key' }).click()
  const bobShown = page.getByRole('dialog', { name: 'API key created' })
  t.equal(await bobShown.locator('.owner-note').textContent(), 'This key belongs to Bob Builder (bob@example.com), not to you: it reaches what their groups and role grant. Give it to them safely.')
  t.match(await bobShown.locator('[role="tabpanel"]:not([hidden]) code').textContent(), /mcp-connect\/docs/, 'snippets for what "All MCP servers" means for Bob')
  t.notMatch(await bobShown.locator('[role="tabpanel"]:not([hidden]) code').textContent(), /vault/, 'not for the admin\'s servers')
  await bobShown.getByRole('button', { name: 'Done' }).click()
  await bobShown.waitFor({ state: 'detached' })
  const bobKeys = await fetch(`${stack.adminUrl}/api/admin-api-keys?userId=${(await bob.json() as UserView).id}`, { headers: { authorization: `Bearer ${CONSOLE_ADMIN_TOKEN}` } })
  t.match((await bobKeys.json() as { items: unknown[] }).items, [{ name: 'Bob laptop', mcpServerIds: ['*'] }], 'the key is Bob\'s')
  t.equal(await pageOverflow(page), 0, 'no page-wide horizontal scroll at 1024 px')
  await page.goto('/#/admin/users?kind=service')
  await page.getByRole('row', { name: /CI bot/ }).waitFor()

  // Delete: the confirmation counts its keys; then the gateway refuses the key.
  await page.getByRole('button', { name: 'Actions for service account CI bot' }).click()
  await page.getByRole('menuitem', { name: 'Delete' }).click()
  const confirm = page.getByRole('dialog', { name: 'Delete service account' })
  await confirm.waitFor()
  t.match(await confirm.textContent(), /Delete the service account CI bot\?/)
  t.match(await confirm.textContent(), /Its 1 API key is deleted too/, 'its keys go with it')
  t.notMatch(await confirm.textContent(), /sign in again/, 'nothing about signing in: it never does')
  await confirm.getByRole('button', { name: 'Delete service account' }).click()
  await page.getByRole('heading', { name: 'No service accounts yet' }).waitFor()
  t.same(await users(stack.adminUrl, '?kind=service'), [], 'the account is gone')
  t.equal(await statusBecomes(stack.gatewayUrl, 'tickets', key, 401), 401, 'and the gateway refuses its key')

  t.same(problems, [], 'no page errors or CSP violations')
})

test('at 390 px the Users page and the new service account dialog fit the width', async t => {
  const stack = await startConsoleStack(t)
  const created = await fetch(`${stack.adminUrl}/api/users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${CONSOLE_ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'service', name: 'release-bot', groups: ['ci'] })
  })
  t.equal(created.status, 201)
  const browser = await launchBrowser(t)
  const { page, problems } = await newPage(browser, stack.adminUrl, { width: 390, height: 844 })
  await signInWithOidc(page, 'alice')
  await page.goto('/#/admin/users')
  const card = page.getByRole('row', { name: /release-bot/ })
  await card.waitFor()
  t.equal(await pageOverflow(page), 0, 'no page-wide horizontal scroll')
  t.equal(await card.locator('td[data-label="Kind"]').textContent(), 'Service account', 'the card says its kind')
  t.equal(await card.locator('td[data-label="Email"]').textContent(), '—', 'and a dash for its email')
  t.ok(await page.getByLabel('Show').isVisible(), 'the filter is there')

  await page.getByRole('button', { name: 'New service account' }).click()
  const dialog = page.getByRole('dialog', { name: 'New service account' })
  await dialog.waitFor()
  const box = await dialog.boundingBox()
  t.ok(box !== null && box.x >= 0 && box.x + box.width <= 390, 'the dialog fits the width')
  for (const label of ['Name', 'Groups', 'Email']) {
    const input = await dialog.getByLabel(label).boundingBox()
    t.ok(input !== null && input.x >= 0 && input.x + input.width <= 390, `its ${label} field fits`)
  }
  await screenshot(page, 'new-service-account-390')
  t.same(problems, [], 'no page errors or CSP violations')
})
