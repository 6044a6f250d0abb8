// A repeated key name is warned about, never refused, in a real browser (issue 28): while typing
// a name one of the owner's keys already has (any case, spaces around it ignored) the dialog says
// so politely, and the key is still created; an admin making a key for someone else is told
// about that user's keys.
import { test } from 'tap'
import { launchBrowser, newPage, signInWithOidc, startConsoleStack } from '../helpers/console-stack.ts'

test('a duplicate key name is warned about, not refused', async t => {
  const stack = await startConsoleStack(t)
  const browser = await launchBrowser(t)
  const { page, problems } = await newPage(browser, stack.adminUrl, { width: 1024, height: 800 })
  await signInWithOidc(page, 'bob')
  const create = async (name: string) => {
    await page.getByRole('button', { name: 'Create API key' }).first().click()
    const dialog = page.getByRole('dialog', { name: 'Create API key' })
    await dialog.getByLabel('Name').fill(name)
    return dialog
  }
  const first = await create('Laptop')
  t.equal(await first.locator('#key-name-duplicate').textContent(), '', 'a new name: no warning')
  await first.getByRole('checkbox', { name: /^Docs/ }).check()
  await first.getByRole('button', { name: 'Create API key' }).click()
  await page.getByRole('dialog', { name: 'API key created' }).getByRole('button', { name: 'Done' }).click()
  await page.getByRole('row', { name: /Laptop/ }).waitFor()

  const second = await create(' laptop ')
  const warning = second.getByRole('status').filter({ hasText: 'already have' })
  await warning.waitFor()
  t.equal(await warning.textContent(), 'You already have a key named “laptop”. You can keep the name, but a distinct one tells the keys apart.')
  t.match(await second.getByLabel('Name').getAttribute('aria-describedby'), /key-name-duplicate/, 'read with the field')
  t.equal(await second.getByLabel('Name').getAttribute('aria-invalid'), null, 'a warning, not an error')
  await second.getByLabel('Name').fill('Laptop 2')
  t.equal(await second.locator('#key-name-duplicate').textContent(), '', 'a distinct name clears it')
  await second.getByLabel('Name').fill('Laptop')
  await warning.waitFor()
  await second.getByRole('checkbox', { name: /^Docs/ }).check()
  await second.getByRole('button', { name: 'Create API key' }).click()
  await page.getByRole('dialog', { name: 'API key created' }).getByRole('button', { name: 'Done' }).click()
  await page.getByRole('row', { name: /Laptop/ }).nth(1).waitFor()
  t.equal(await page.getByRole('row', { name: /Laptop/ }).count(), 2, 'the key is created all the same')

  // An admin, making a key for Bob: Bob's names.
  const admin = await newPage(browser, stack.adminUrl, { width: 1024, height: 800 })
  await signInWithOidc(admin.page, 'alice')
  await admin.page.goto('/#/admin/users')
  await admin.page.getByRole('button', { name: 'Actions for user Bob Builder (bob@example.com)' }).click()
  await admin.page.getByRole('menuitem', { name: 'Create API key' }).click()
  const forBob = admin.page.getByRole('dialog', { name: 'Create API key for Bob Builder' })
  await forBob.getByLabel('Name').fill('LAPTOP')
  await forBob.getByRole('status').filter({ hasText: 'Bob Builder already has a key named “LAPTOP”.' }).waitFor()
  t.pass('Bob\'s names, read for the admin')
  t.same([...problems, ...admin.problems], [], 'no page errors or CSP violations')
})
