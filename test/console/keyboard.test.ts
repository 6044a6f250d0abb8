// The console works from the keyboard alone: opening and filling the create dialog, copying
// the key, closing with Escape (asked first; focus returns), the row menu (arrows, Escape) and the delete
// confirmation (focus starts on Cancel); with the last key deleted, the focus goes to "Create
// your first API key", not to the page's body.
import { test } from 'tap'
import type { Page } from 'playwright-core'
import { launchBrowser, newPage, signInWithOidc, startConsoleStack } from '../helpers/console-stack.ts'

async function focused (page: Page): Promise<string> {
  return await page.evaluate(() => {
    const el = document.activeElement
    if (el === null) return ''
    return `${el.tagName.toLowerCase()}:${el.getAttribute('aria-label') ?? el.id ?? ''}:${(el.textContent ?? '').trim()}`
  })
}

test('keys can be created and deleted with the keyboard only', async t => {
  const stack = await startConsoleStack(t)
  const browser = await launchBrowser(t)
  const { page, problems } = await newPage(browser, stack.adminUrl)
  await signInWithOidc(page, 'bob')
  await page.getByRole('heading', { name: 'No API keys yet' }).waitFor()

  // From the top of the page, Tab reaches the skip link first.
  await page.locator('body').focus()
  await page.keyboard.press('Tab')
  t.match(await focused(page), /^a:.*Skip to content$/, 'a skip link comes first')

  await page.getByRole('button', { name: 'Create API key' }).first().focus()
  await page.keyboard.press('Enter')
  await page.getByRole('dialog', { name: 'Create API key' }).waitFor()
  t.equal(await focused(page), 'input:key-name:', 'the dialog opens with the focus on Name')
  await page.keyboard.type('Keyboard key')
  await page.keyboard.press('Tab')
  t.equal(await focused(page), 'textarea:key-description:', 'Tab goes on to Description')
  await page.keyboard.press('Tab')
  t.equal(await focused(page), 'input:key-expires:', 'then the expiration date')
  // The date input has a tab stop per segment (month, day, year).
  for (let i = 0; i < 5 && await focused(page) !== 'input:key-servers-all:'; i++) await page.keyboard.press('Tab')
  t.equal(await focused(page), 'input:key-servers-all:', 'then the MCP servers, starting with All MCP servers')
  await page.keyboard.press('Space')
  await page.keyboard.press('Enter')
  const created = page.getByRole('dialog', { name: 'API key created' })
  await created.waitFor()
  t.equal(await focused(page), 'input:created-key:', 'the new key has the focus, ready to copy')
  await page.keyboard.press('Escape')
  await created.getByRole('alert').filter({ hasText: 'Close without copying?' }).waitFor()
  t.equal(await focused(page), 'button::Done', 'Escape asks first, the focus on Done')
  await page.keyboard.press('Escape')
  await created.waitFor({ state: 'detached' })
  t.match(await focused(page), /^button:.*Create API key$/, 'a second Escape closes the dialog and the focus returns to its opener')
  await page.getByRole('row', { name: /Keyboard key/ }).waitFor()

  const menuButton = page.getByRole('button', { name: 'Actions for API key Keyboard key' })
  await menuButton.focus()
  await page.keyboard.press('Enter')
  t.equal(await menuButton.getAttribute('aria-expanded'), 'true', 'Enter opens the row menu')
  t.equal(await focused(page), 'button::View details', 'on its first item')
  await page.keyboard.press('ArrowDown')
  t.equal(await focused(page), 'button::Rotate', 'ArrowDown moves to the next')
  await page.keyboard.press('Escape')
  t.equal(await menuButton.getAttribute('aria-expanded'), 'false', 'Escape closes it')
  t.match(await focused(page), /^button:Actions for API key Keyboard key:/, 'and returns the focus to the menu button')
  await page.keyboard.press('ArrowUp')
  t.equal(await focused(page), 'button::Delete', 'ArrowUp opens the menu on its last item')
  await page.keyboard.press('Enter')
  const confirm = page.getByRole('dialog', { name: 'Delete API key' })
  await confirm.waitFor()
  t.equal(await focused(page), 'button::Cancel', 'the confirmation starts on Cancel, the safe choice')
  await page.keyboard.press('Tab')
  await page.keyboard.press('Enter')
  await page.getByRole('heading', { name: 'No API keys yet' }).waitFor()
  t.equal(await page.getByRole('row', { name: /Keyboard key/ }).count(), 0, 'the key is deleted')
  t.equal(await focused(page), 'button::Create your first API key', 'the focus goes to the empty state\'s button')
  await page.keyboard.press('Enter')
  await page.getByRole('dialog', { name: 'Create API key' }).waitFor()
  t.pass('from where Enter creates the next key')
  t.same(problems, [], 'no page errors or CSP violations')
})
