// The admin API's refusals in the console's words, in a real browser (issue 28): never the API's
// raw message (field paths, codes, ids, its schema validator's wording). A taken email, the key
// limit, a schema refusal naming a field, and a user deleted meanwhile, each where it belongs.
import type { Locator } from 'playwright-core'
import { test } from 'tap'
import type { UserView } from '../../admin-api/schemas.ts'
import { CONSOLE_ADMIN_TOKEN, launchBrowser, newPage, signInWithOidc, startConsoleStack } from '../helpers/console-stack.ts'

/** What the API says raw: its codes, its field paths, its schema validator's wording, its ids. */
const RAW = /MCPGATE_|must not have|groups\[|body\/|"[A-Za-z0-9]{12,}"|\b(400|404|409)\b/

async function text (el: Locator): Promise<string> {
  return (await el.textContent()) ?? ''
}

test('refusals are said in words, next to the field they are about', async t => {
  const stack = await startConsoleStack(t, { admin: { maxKeysPerUser: 1 } })
  const gone = await fetch(`${stack.adminUrl}/api/users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${CONSOLE_ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'gone@example.com', name: 'Gone Soon' })
  }).then(async res => await res.json() as UserView)
  const browser = await launchBrowser(t)

  // The key limit (1 here): the second key is refused above the buttons.
  const carol = await newPage(browser, stack.adminUrl, { width: 1024, height: 800 })
  await signInWithOidc(carol.page, 'carol')
  for (const name of ['one', 'two']) {
    await carol.page.getByRole('button', { name: 'Create API key' }).first().click()
    const dialog = carol.page.getByRole('dialog', { name: 'Create API key' })
    await dialog.getByLabel('Name').fill(name)
    await dialog.getByRole('checkbox', { name: /^Docs/ }).check()
    await dialog.getByRole('button', { name: 'Create API key' }).click()
    if (name === 'one') {
      await carol.page.getByRole('dialog', { name: 'API key created' }).getByRole('button', { name: 'Done' }).click()
      continue
    }
    const error = dialog.locator('.form-error')
    await error.waitFor()
    t.equal(await text(error), 'The most API keys one user may have (1) is reached. Delete a key that is no longer used first.', 'the key limit, in words')
    await dialog.getByRole('button', { name: 'Cancel' }).click()
  }

  const alice = await newPage(browser, stack.adminUrl, { width: 1024, height: 800 })
  const page = alice.page
  await signInWithOidc(page, 'alice')
  await page.goto('/#/admin/users')
  await page.getByRole('row', { name: /Gone Soon/ }).waitFor()

  // A taken email, on the Email field.
  await page.getByRole('button', { name: 'Add user' }).click()
  const add = page.getByRole('dialog', { name: 'Add user' })
  await add.getByLabel('Email').fill('carol@example.com')
  await add.getByRole('button', { name: 'Add user' }).click()
  const emailError = add.locator('#user-email-error')
  await emailError.waitFor()
  t.equal(await text(emailError), 'A user with this email address already exists.', 'a taken email, at its field')
  t.notMatch(await text(add), RAW, 'nothing raw in the dialog')
  await add.getByRole('button', { name: 'Cancel' }).click()

  // The schema's limit on a group's length, named as the form names the field.
  await page.getByRole('button', { name: 'New service account' }).click()
  const service = page.getByRole('dialog', { name: 'New service account' })
  await service.getByLabel('Name').fill('long-group-bot')
  await service.getByLabel('Groups').fill('g'.repeat(201))
  await service.getByRole('button', { name: 'Create service account' }).click()
  const groupsError = service.locator('#service-groups-error')
  await groupsError.waitFor()
  t.equal(await text(groupsError), 'Groups must be at most 200 characters.', 'the field by its label, the limit in words')
  t.notMatch(await text(service), RAW, 'nothing raw in the dialog')
  await service.getByRole('button', { name: 'Cancel' }).click()

  // A user deleted meanwhile (by another admin): the refusal says so, in the confirmation.
  const deleted = await fetch(`${stack.adminUrl}/api/users/${gone.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${CONSOLE_ADMIN_TOKEN}` } })
  t.equal(deleted.status, 204)
  await page.getByRole('button', { name: 'Actions for user Gone Soon (gone@example.com)' }).click()
  await page.getByRole('menuitem', { name: 'Disable' }).click()
  const confirm = page.getByRole('dialog', { name: 'Disable user' })
  await confirm.getByRole('button', { name: 'Disable user' }).click()
  const refusal = confirm.getByRole('alert')
  await refusal.waitFor()
  t.equal(await text(refusal), 'This user no longer exists: they may have been deleted meanwhile. Reload the page.')
  t.notMatch(await text(confirm), RAW, 'nothing raw in the confirmation')
  t.same([...carol.problems, ...alice.problems], [], 'no page errors or CSP violations')
})
