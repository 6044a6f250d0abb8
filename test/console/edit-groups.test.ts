// Groups are editable in the console (issue 28): an admin opens "Edit groups" from a user's ⋮ menu,
// changes them, and the row, the API and the gateway follow at once — a service account that could
// not reach the support group's server reaches it after "support" is added, and not after it is
// removed again. The focus returns to the row's menu.
import { test } from 'tap'
import type { UserView } from '../../admin-api/schemas.ts'
import { CONSOLE_ADMIN_TOKEN, launchBrowser, newPage, signInWithOidc, startConsoleStack } from '../helpers/console-stack.ts'

const adminHeaders = { authorization: `Bearer ${CONSOLE_ADMIN_TOKEN}`, 'content-type': 'application/json' }

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

test('an admin edits a service account\'s groups; the gateway applies them at once', async t => {
  const stack = await startConsoleStack(t)
  const created = await fetch(`${stack.adminUrl}/api/users`, { method: 'POST', headers: adminHeaders, body: JSON.stringify({ kind: 'service', name: 'Helpdesk bot', groups: [] }) })
  t.equal(created.status, 201)
  const bot = await created.json() as UserView
  const keyRes = await fetch(`${stack.adminUrl}/api/users/${bot.id}/api-keys`, { method: 'POST', headers: adminHeaders, body: JSON.stringify({ name: 'helpdesk', mcpServerIds: ['*'], expiresAt: null }) })
  t.equal(keyRes.status, 201)
  const { key } = await keyRes.json() as { key: string }
  t.equal(await initializeStatus(stack.gatewayUrl, 'tickets', key), 404, 'without the support group: the tickets server is not reachable')

  const browser = await launchBrowser(t)
  const { page, problems } = await newPage(browser, stack.adminUrl, { width: 1024, height: 800 })
  await signInWithOidc(page, 'alice')
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click()
  const row = page.getByRole('row', { name: /Helpdesk bot/ })
  await row.waitFor()
  t.equal(await row.locator('td[data-label="Groups"]').textContent(), '—', 'no groups yet')

  const editGroups = async (value: string): Promise<void> => {
    await row.getByRole('button', { name: /Actions for service account Helpdesk bot/ }).click()
    await page.getByRole('menuitem', { name: 'Edit groups' }).click()
    const dialog = page.getByRole('dialog', { name: /Groups of Helpdesk bot/ })
    await dialog.getByLabel('Groups').fill(value)
    await dialog.getByRole('button', { name: 'Save groups' }).click()
    await dialog.waitFor({ state: 'detached' })
  }

  await editGroups('support, ci, support')
  await page.waitForFunction(() => document.querySelector('tr td[data-label="Groups"]')?.closest('tbody')?.textContent?.includes('support, ci') === true)
  t.equal(await row.locator('td[data-label="Groups"]').textContent(), 'support, ci', 'the row shows them, once each')
  const after = await (await fetch(`${stack.adminUrl}/api/users/${bot.id}`, { headers: adminHeaders })).json() as UserView
  t.same(after.groups, ['support', 'ci'], 'the API holds them')
  t.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Actions for service account Helpdesk bot', 'the focus is back on the row\'s menu')
  t.equal(await initializeStatus(stack.gatewayUrl, 'tickets', key), 200, 'with the support group: the same key reaches the tickets server at once')

  await editGroups('')
  await page.waitForFunction(() => [...document.querySelectorAll('tr')].some(r => r.textContent?.includes('Helpdesk bot') === true && r.querySelector('td[data-label="Groups"]')?.textContent === '—'))
  t.equal(await initializeStatus(stack.gatewayUrl, 'tickets', key), 404, 'groups removed: refused again at once')
  t.same(problems, [], 'no console errors')
})
