// The one-time view of a new key in a real browser (issue 28): Escape does not lose the key
// silently. The first Escape keeps the dialog open with a warning and moves the focus to Done; a
// second Escape, or Done, closes it. The same after a rotation, which shows a new key once too.
import { test } from 'tap'
import { launchBrowser, newPage, signInWithOidc, startConsoleStack } from '../helpers/console-stack.ts'

test('Escape on a key shown once asks before closing', async t => {
  const stack = await startConsoleStack(t)
  const browser = await launchBrowser(t)
  const { page, problems } = await newPage(browser, stack.adminUrl, { width: 1024, height: 800 })
  await signInWithOidc(page, 'bob')
  await page.getByRole('button', { name: 'Create API key' }).first().click()
  const dialog = page.getByRole('dialog', { name: 'Create API key' })
  await dialog.getByLabel('Name').fill('Once')
  await dialog.getByRole('checkbox', { name: /^Docs/ }).check()
  await dialog.getByRole('button', { name: 'Create API key' }).click()
  const created = page.getByRole('dialog', { name: 'API key created' })
  const key = await created.getByLabel(/^API key/).inputValue()

  await page.keyboard.press('Escape')
  const warning = created.getByRole('alert')
  await warning.waitFor()
  t.equal(await warning.textContent(), 'Close without copying? This key cannot be shown again. Press Escape again to close, or choose Done once you have copied it.')
  t.ok(await created.isVisible(), 'the first Escape keeps the dialog open')
  t.equal(await created.getByLabel(/^API key/).inputValue(), key, 'with the key still there to copy')
  t.equal(await page.evaluate(() => document.activeElement?.textContent), 'Done', 'the focus on Done')
  await created.getByRole('button', { name: 'Copy key' }).click()
  t.equal(await page.evaluate(() => navigator.clipboard.readText()), key, 'it can still be copied')
  await page.keyboard.press('Escape')
  await created.waitFor({ state: 'detached' })
  t.pass('a second Escape closes it')

  // Rotate shows a new key once: the same.
  await page.getByRole('button', { name: 'Actions for API key Once' }).click()
  await page.getByRole('menuitem', { name: 'Rotate' }).click()
  await page.getByRole('dialog', { name: 'Rotate API key' }).getByRole('button', { name: 'Rotate key' }).click()
  const rotated = page.getByRole('dialog', { name: 'API key rotated' })
  await rotated.getByLabel(/^API key/).waitFor()
  await page.keyboard.press('Escape')
  await rotated.getByRole('alert').waitFor()
  t.ok(await rotated.isVisible(), 'after a rotation too, Escape asks first')
  await rotated.getByRole('button', { name: 'Done' }).click()
  await rotated.waitFor({ state: 'detached' })
  t.pass('Done closes it at once')
  t.same(problems, [], 'no page errors or CSP violations')
})
