// The create-key form's validation in a real browser: required name and servers, "All MCP
// servers" is exclusive, no past expiration date, and a server-side validation error (here: the
// configured maximum key lifetime) appears next to the field it is about, in the form's words.
import { test } from 'tap'
import { launchBrowser, newPage, signInWithOidc, startConsoleStack, screenshot } from '../helpers/console-stack.ts'

function localDate (offsetDays: number): string {
  const d = new Date(Date.now() + offsetDays * 24 * 3600_000)
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`
}

test('the create-key form shows client and server validation errors next to their fields', async t => {
  const stack = await startConsoleStack(t, { admin: { maxKeyLifetimeDays: 30 } })
  const browser = await launchBrowser(t)
  const { page, problems } = await newPage(browser, stack.adminUrl)
  await signInWithOidc(page, 'carol')

  await page.getByRole('button', { name: 'Create API key' }).first().click()
  const dialog = page.getByRole('dialog', { name: 'Create API key' })
  const submit = dialog.getByRole('button', { name: 'Create API key' })
  await submit.click()
  t.equal(await dialog.locator('#key-name-error').textContent(), 'Enter a name for the key.', 'the name is required')
  t.equal(await dialog.getByLabel('Name').getAttribute('aria-invalid'), 'true')
  t.equal(await dialog.locator('#key-servers-error').textContent(), 'Choose at least one MCP server, or All MCP servers.', 'a server is required')
  t.ok(await dialog.getByLabel('Name').evaluate(el => el === document.activeElement), 'the focus moves to the first invalid field')
  t.match(await dialog.getByLabel('Name').getAttribute('aria-describedby'), /key-name-error/, 'the error is tied to its input')

  // "All MCP servers" is exclusive.
  const docs = dialog.getByRole('checkbox', { name: /^Docs/ })
  await docs.check()
  await dialog.getByRole('checkbox', { name: /^All MCP servers/ }).check()
  t.notOk(await docs.isChecked(), 'choosing All MCP servers clears the single servers')
  t.ok(await docs.isDisabled(), 'and disables them')
  await dialog.getByRole('checkbox', { name: /^All MCP servers/ }).uncheck()
  t.notOk(await docs.isDisabled())
  await docs.check()

  await dialog.getByLabel('Name').fill('Nightly job')
  t.equal(await dialog.getByLabel('Expiration date').getAttribute('min'), localDate(0), 'the date picker starts today')
  await dialog.getByLabel('Expiration date').fill(localDate(-1))
  await submit.click()
  t.equal(await dialog.locator('#key-expires-error').textContent(), 'The expiration date cannot be in the past.')
  t.equal(await dialog.locator('#key-name-error').isHidden(), true, 'fixed fields lose their error')

  // No date: the server requires one (maxKeyLifetimeDays) and says so next to the date field.
  await dialog.getByLabel('Expiration date').fill('')
  await submit.click()
  const serverError = dialog.locator('#key-expires-error')
  await serverError.filter({ hasText: /30 days/ }).waitFor()
  t.equal(await serverError.textContent(), 'Expiration date is required: keys must expire within 30 days.', 'the server\'s refusal is shown at the field, naming it as the form does')
  await screenshot(page, 'create-key-validation')

  await dialog.getByLabel('Expiration date').fill(localDate(7))
  await submit.click()
  const created = page.getByRole('dialog', { name: 'API key created' })
  await created.waitFor()
  await created.getByRole('button', { name: 'Done' }).click()
  const expires = await page.getByRole('row', { name: /Nightly job/ }).locator('td[data-label="Expires"] time').getAttribute('datetime')
  const end = new Date(expires ?? '')
  t.equal(`${end.getFullYear()}-${String(end.getMonth() + 1).padStart(2, '0')}-${String(end.getDate()).padStart(2, '0')}`, localDate(7), 'the key expires on the chosen day')
  t.equal(end.getHours(), 23, 'at the end of that day')
  t.same(problems, [], 'no page errors or CSP violations')
})
