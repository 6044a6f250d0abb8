// The Users page's guards in a real browser (issue 28, items 3 and 4): an admin cannot disable,
// demote or delete their own account (the items are unavailable, with the reason, and do
// nothing); "Make regular user" is unavailable for an admin whom an identity provider group makes
// one (roleFromGroups), and says which group; disabling anyone asks first (their keys stop), then
// the gateway refuses their key; and the API's refusal of the last enabled admin
// (MCPGATE_LAST_ADMIN, 409) is shown in the confirmation in words, not as the API's message.
import { setTimeout as delay } from 'node:timers/promises'
import type { Locator, Page } from 'playwright-core'
import { test } from 'tap'
import type { UserView } from '../../admin-api/schemas.ts'
import { ADMIN_GROUP, CONSOLE_ADMIN_TOKEN, launchBrowser, newPage, screenshot, signInWithOidc, startConsoleStack } from '../helpers/console-stack.ts'

async function api<T> (baseUrl: string, method: string, path: string, body?: unknown): Promise<{ status: number, body: T }> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${CONSOLE_ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  const text = await res.text()
  return { status: res.status, body: (text === '' ? null : JSON.parse(text)) as T }
}

async function initializeStatus (gatewayUrl: string, key: string): Promise<number> {
  const res = await fetch(`${gatewayUrl}/mcp-connect/docs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } })
  })
  await res.arrayBuffer()
  return res.status
}

/** The gateway learns of a change through the store's invalidation log: poll until `want`. */
async function statusBecomes (gatewayUrl: string, key: string, want: number): Promise<number> {
  let status = 0
  for (const deadline = Date.now() + 5_000; Date.now() < deadline; await delay(25)) {
    status = await initializeStatus(gatewayUrl, key)
    if (status === want) break
  }
  return status
}

/** A menu item's name, whether it is unavailable, and the reason read with it. */
async function item (menuItem: Locator): Promise<{ disabled: string | null, reason: string }> {
  return await menuItem.evaluate(el => ({
    disabled: el.getAttribute('aria-disabled'),
    reason: (el.getAttribute('aria-describedby') ?? '').split(' ').map(id => document.getElementById(id)?.textContent ?? '').join(' ')
  }))
}

async function openMenu (page: Page, name: string): Promise<Locator> {
  await page.getByRole('button', { name }).click()
  const menu = page.getByRole('menu')
  await menu.waitFor()
  return menu
}

test('an admin cannot lock themselves out, disabling asks first, and IdP admins are kept', async t => {
  const stack = await startConsoleStack(t)
  const bob = await api<UserView>(stack.adminUrl, 'POST', '/api/users', { email: 'bob@example.com', name: 'Bob Builder', groups: ['engineering'] })
  const bobKey = await api<{ key: string }>(stack.adminUrl, 'POST', `/api/users/${bob.body.id}/api-keys`, { name: 'Bob CI', mcpServerIds: ['docs'] })
  await api(stack.adminUrl, 'POST', '/api/users', { email: 'dave@example.com', name: 'Dave Admin', role: 'admin' })
  await api(stack.adminUrl, 'POST', '/api/users', { email: 'gina@example.com', name: 'Gina Groupadmin', role: 'admin', groups: [ADMIN_GROUP] })
  t.equal(await initializeStatus(stack.gatewayUrl, bobKey.body.key), 200, 'Bob\'s key works')

  const browser = await launchBrowser(t)
  const { page, problems } = await newPage(browser, stack.adminUrl, { width: 1024, height: 800 })
  await signInWithOidc(page, 'alice')
  await page.goto('/#/admin/users')
  await page.getByRole('row', { name: /Gina Groupadmin/ }).waitFor()

  // Your own account: no demote, disable or delete, each with the reason.
  const own = await openMenu(page, 'Actions for user Alice Admin (alice@example.com)')
  t.same(await item(own.getByRole('menuitem', { name: 'Make regular user' })), { disabled: 'true', reason: 'You cannot remove your own admin role: another admin can.' })
  t.same(await item(own.getByRole('menuitem', { name: 'Disable' })), { disabled: 'true', reason: 'You cannot disable your own account.' })
  t.same(await item(own.getByRole('menuitem', { name: 'Delete' })), { disabled: 'true', reason: 'You cannot delete your own account.' })
  t.ok(await own.getByText('You cannot disable your own account.').isVisible(), 'the reason is shown, not only read')
  await screenshot(page, 'users-own-menu')
  await page.keyboard.press('End')
  t.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-disabled')), 'true', 'an unavailable item still takes the focus, so its reason is read')
  await page.keyboard.press('Enter')
  // force: Playwright will not click an aria-disabled element, a mouse or a finger will.
  await own.getByRole('menuitem', { name: 'Delete' }).click({ force: true })
  await own.getByRole('menuitem', { name: 'Disable' }).click({ force: true })
  t.equal(await page.getByRole('dialog').count(), 0, 'choosing one (Enter, a click) opens nothing')
  t.ok(await own.isVisible(), 'and the menu stays open with the reason')
  await page.keyboard.press('Escape')
  const alice = (await api<{ items: UserView[] }>(stack.adminUrl, 'GET', '/api/users')).body.items.find(u => u.email === 'alice@example.com')
  t.match(alice, { role: 'admin', disabled: false }, 'nothing changed')

  // An admin through an IdP group: the group, in the Role column and as the reason.
  const gina = page.getByRole('row', { name: /Gina Groupadmin/ })
  t.equal(await gina.locator('td[data-label="Role"]').textContent(), `Adminthrough IdP group ${ADMIN_GROUP}`)
  const ginaMenu = await openMenu(page, 'Actions for user Gina Groupadmin (gina@example.com)')
  t.same(await item(ginaMenu.getByRole('menuitem', { name: 'Make regular user' })),
    { disabled: 'true', reason: `Admin through IdP group ${ADMIN_GROUP}: change it at the identity provider.` })
  t.equal(await item(ginaMenu.getByRole('menuitem', { name: 'Disable' })).then(i => i.disabled), null, 'disabling her is still possible')
  await page.keyboard.press('Escape')
  // An admin by the API's role alone can be made a regular user.
  const daveMenu = await openMenu(page, 'Actions for user Dave Admin (dave@example.com)')
  t.equal((await item(daveMenu.getByRole('menuitem', { name: 'Make regular user' }))).disabled, null)
  await daveMenu.getByRole('menuitem', { name: 'Make regular user' }).click()
  await page.getByRole('row', { name: /Dave Admin/ }).locator('td[data-label="Role"]').filter({ hasText: /^User$/ }).waitFor()
  t.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Actions for user Dave Admin (dave@example.com)', 'the focus stays on his ⋮')

  // Disabling asks first: Cancel changes nothing.
  const bobMenu = await openMenu(page, 'Actions for user Bob Builder (bob@example.com)')
  await bobMenu.getByRole('menuitem', { name: 'Disable' }).click()
  const confirm = page.getByRole('dialog', { name: 'Disable user' })
  await confirm.waitFor()
  t.match(await confirm.textContent(), /Disable the user Bob Builder \(bob@example\.com\)\?/)
  t.match(await confirm.textContent(), /Their 1 API key stops working at once, on every gateway\. They cannot sign in to the console either\./, 'it says what stops')
  t.match(await confirm.textContent(), /Enable them again to undo this/, 'and how to undo it')
  t.equal(await page.evaluate(() => document.activeElement?.textContent), 'Cancel', 'the focus starts on Cancel')
  await screenshot(page, 'users-disable-confirm')
  await confirm.getByRole('button', { name: 'Cancel' }).click()
  await confirm.waitFor({ state: 'detached' })
  t.equal((await api<UserView>(stack.adminUrl, 'GET', `/api/users/${bob.body.id}`)).body.disabled, false, 'cancelled: Bob is not disabled')
  t.equal(await initializeStatus(stack.gatewayUrl, bobKey.body.key), 200)

  await (await openMenu(page, 'Actions for user Bob Builder (bob@example.com)')).getByRole('menuitem', { name: 'Disable' }).click()
  await confirm.getByRole('button', { name: 'Disable user' }).click()
  await confirm.waitFor({ state: 'detached' })
  await page.getByRole('row', { name: /Bob Builder/ }).locator('td[data-label="Status"]').filter({ hasText: 'Disabled' }).waitFor()
  t.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Actions for user Bob Builder (bob@example.com)', 'the focus returns to his ⋮')
  t.equal(await statusBecomes(stack.gatewayUrl, bobKey.body.key, 401), 401, 'confirmed: the gateway refuses his key')
  t.same(problems, [], 'no page errors or CSP violations')
})

test('the last enabled admin: the API\'s refusal is shown in words', async t => {
  const stack = await startConsoleStack(t)
  const only = await api<UserView>(stack.adminUrl, 'POST', '/api/users', { email: 'alice@example.com', name: 'Alice Admin', role: 'admin' })
  t.equal(only.status, 201)
  const browser = await launchBrowser(t)
  const { page, problems } = await newPage(browser, stack.adminUrl, { width: 1024, height: 800 })
  await page.goto('/')
  await page.getByText('Bootstrap: sign in with the admin token').click()
  await page.getByLabel('Admin token').fill(CONSOLE_ADMIN_TOKEN)
  await page.getByRole('button', { name: 'Sign in with token' }).click()
  await page.getByRole('heading', { name: 'All API Keys' }).waitFor()
  await page.goto('/#/admin/users')

  for (const [action, title] of [['Disable', 'Disable user'], ['Delete', 'Delete user']] as const) {
    const menu = await openMenu(page, 'Actions for user Alice Admin (alice@example.com)')
    t.equal((await item(menu.getByRole('menuitem', { name: action }))).disabled, null, `${action}: the admin token is nobody's own account`)
    await menu.getByRole('menuitem', { name: action }).click()
    const confirm = page.getByRole('dialog', { name: title })
    await confirm.getByRole('button', { name: title }).click()
    const error = confirm.getByRole('alert')
    await error.waitFor()
    t.equal(await error.textContent(), 'This is the last enabled admin: disabling, demoting or deleting them would leave nobody who can administer mcpgate in the console. Make another user an admin first.',
      `${action}: the refusal, in words`)
    t.notMatch(await confirm.textContent(), /MCPGATE_|User "|409/, 'not the API\'s code, message or status')
    t.ok(await confirm.getByRole('button', { name: 'Cancel' }).isEnabled(), 'the dialog stays open, to cancel')
    if (action === 'Disable') await screenshot(page, 'users-last-admin')
    await confirm.getByRole('button', { name: 'Cancel' }).click()
    await confirm.waitFor({ state: 'detached' })
  }
  t.match((await api<UserView>(stack.adminUrl, 'GET', `/api/users/${only.body.id}`)).body, { role: 'admin', disabled: false }, 'Alice is still an enabled admin')
  t.same(problems, [], 'no page errors or CSP violations')
})
