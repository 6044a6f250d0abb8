// The Servers column by touch, on a phone-sized screen in a real browser (issue 28): the names a
// key reaches are not only a hover tooltip — a tap on "2 servers" unfolds them (and what the key
// may use of each), a second tap folds them; a server the owner can no longer reach is named so
// in the list, not only in the warning badge's tooltip.
import { test } from 'tap'
import type { UserView } from '../../admin-api/schemas.ts'
import { CONSOLE_ADMIN_TOKEN, launchBrowser, signInWithOidc, startConsoleStack } from '../helpers/console-stack.ts'

async function admin<T> (baseUrl: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${CONSOLE_ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  return await res.json() as T
}

test('a tap unfolds the servers of a key', async t => {
  const stack = await startConsoleStack(t)
  const carol = await admin<UserView>(stack.adminUrl, 'POST', '/api/users', { email: 'carol@example.com', name: 'Carol Support', groups: ['support'] })
  await admin(stack.adminUrl, 'POST', `/api/users/${carol.id}/api-keys`, { name: 'Support phone', mcpServerIds: ['docs', 'tickets'], scopes: { docs: { tools: ['ping'] } } })
  const browser = await launchBrowser(t)
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true, baseURL: stack.adminUrl })
  t.teardown(() => context.close())
  const page = await context.newPage()
  page.setDefaultTimeout(15_000)
  const problems: string[] = []
  page.on('pageerror', err => problems.push(err.message))
  await signInWithOidc(page, 'alice')
  await page.goto(`/#/admin/keys?user=${carol.id}`)

  const cell = page.getByRole('row', { name: /Support phone/ }).locator('td[data-label="Servers"]')
  const button = cell.getByRole('button', { name: /^2 servers/ })
  await button.waitFor()
  const list = cell.locator('.server-details')
  t.equal(await list.isVisible(), false, 'folded at first')
  await button.tap()
  await list.waitFor()
  t.equal(await button.getAttribute('aria-expanded'), 'true', 'a tap unfolds it')
  t.same(await list.locator('li').allTextContents(), ['Docstools: ping', 'Ticketsall tools, prompts and resources'], 'each server by name, with what the key may use of it')
  await button.tap()
  await list.waitFor({ state: 'hidden' })
  t.equal(await button.getAttribute('aria-expanded'), 'false', 'a second tap folds it')

  // Carol leaves the support group: Tickets is named as out of her reach, in the list itself.
  await admin(stack.adminUrl, 'PATCH', `/api/users/${carol.id}`, { groups: [] })
  await page.reload()
  await button.waitFor()
  t.match(await cell.locator('[data-flag="unavailable"]').textContent(), /1 unavailable/, 'the badge')
  await button.tap()
  await list.waitFor()
  t.match(await list.locator('li').nth(1).textContent(), /^Tickets \(no longer reachable\)/, 'and the list says which, for touch users too')
  t.same(problems, [], 'no page errors')
})
