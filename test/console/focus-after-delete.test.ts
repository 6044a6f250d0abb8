// Where the keyboard focus goes after a delete in a real browser (issue 28, item 5): never to the
// page's body. On All API Keys and on Users, to the ⋮ of the row now where the deleted one was;
// with the last key of a filtered list gone, to the empty state's heading. (The own API Keys page,
// to "Create your first API key": keyboard.test.ts.)
import type { Page } from 'playwright-core'
import { test } from 'tap'
import type { UserView } from '../../admin-api/schemas.ts'
import { CONSOLE_ADMIN_TOKEN, launchBrowser, newPage, signInWithOidc, startConsoleStack } from '../helpers/console-stack.ts'

async function post<T> (baseUrl: string, path: string, body: unknown): Promise<T> {
  const res = await fetch(`${baseUrl}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${CONSOLE_ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body)
  })
  return await res.json() as T
}

/** The focused element: its tag, accessible label and text. */
async function focused (page: Page): Promise<string> {
  return await page.evaluate(() => {
    const el = document.activeElement
    return el === null ? '' : `${el.tagName.toLowerCase()}:${el.getAttribute('aria-label') ?? ''}:${(el.textContent ?? '').trim()}`
  })
}

/** Opens the row's ⋮ from the keyboard, chooses Delete and confirms. */
async function deleteWithKeyboard (page: Page, menu: string, dialog: string): Promise<void> {
  await page.getByRole('button', { name: menu }).focus()
  await page.keyboard.press('ArrowUp')
  await page.keyboard.press('Enter')
  const confirm = page.getByRole('dialog', { name: dialog })
  await confirm.waitFor()
  await confirm.getByRole('button', { name: dialog }).focus()
  await page.keyboard.press('Enter')
  await confirm.waitFor({ state: 'detached' })
}

test('after a delete the focus goes on to the next row, or the empty state', async t => {
  const stack = await startConsoleStack(t)
  const bot = await post<UserView>(stack.adminUrl, '/api/users', { kind: 'service', name: 'release-bot', groups: ['support'] })
  const temp = await post<UserView>(stack.adminUrl, '/api/users', { kind: 'service', name: 'temp-bot', groups: [] })
  for (const name of ['first key', 'second key']) await post(stack.adminUrl, `/api/users/${bot.id}/api-keys`, { name, mcpServerIds: ['docs'] })
  const browser = await launchBrowser(t)
  const { page, problems } = await newPage(browser, stack.adminUrl, { width: 1024, height: 800 })
  await signInWithOidc(page, 'alice')

  // All API Keys, filtered by the user: the newest first (second key), then the first.
  await page.goto(`/#/admin/keys?user=${bot.id}`)
  await page.getByRole('row', { name: /first key/ }).waitFor()
  await deleteWithKeyboard(page, 'Actions for API key second key', 'Delete API key')
  await page.getByRole('row', { name: /second key/ }).waitFor({ state: 'detached' })
  t.match(await focused(page), /^button:Actions for API key first key:/, 'the next key\'s ⋮')
  await deleteWithKeyboard(page, 'Actions for API key first key', 'Delete API key')
  await page.getByRole('heading', { name: 'No API keys' }).waitFor()
  t.equal(await focused(page), 'h2::No API keys', 'the last one gone: the empty state\'s heading')

  // Users: the row now in the deleted one's place.
  await page.goto('/#/admin/users?kind=service')
  await page.getByRole('row', { name: /temp-bot/ }).waitFor()
  await deleteWithKeyboard(page, 'Actions for service account release-bot', 'Delete service account')
  await page.getByRole('row', { name: /release-bot/ }).waitFor({ state: 'detached' })
  t.match(await focused(page), /^button:Actions for service account temp-bot:/, 'the next user\'s ⋮')
  await deleteWithKeyboard(page, 'Actions for service account temp-bot', 'Delete service account')
  await page.getByRole('heading', { name: 'No service accounts yet' }).waitFor()
  t.equal(await focused(page), 'h2::No service accounts yet', 'none left: the empty state\'s heading')
  t.ok(temp.id !== '', 'both service accounts were there')
  t.same(problems, [], 'no page errors or CSP violations')
})
