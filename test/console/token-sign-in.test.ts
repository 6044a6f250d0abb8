// Bootstrap sign-in with the admin token in a real browser: a wrong token is refused, the right
// one opens the admin pages, the session lives only in this tab (sessionStorage, never
// localStorage) and sign-out clears it.
import { test } from 'tap'
import { CONSOLE_ADMIN_TOKEN, launchBrowser, newPage, screenshot, startConsoleStack } from '../helpers/console-stack.ts'

test('the bootstrap admin token signs in to this tab only, and signs out', async t => {
  const stack = await startConsoleStack(t)
  const browser = await launchBrowser(t)
  const { page, context, problems } = await newPage(browser, stack.adminUrl)

  await page.goto('/')
  await page.getByRole('heading', { name: 'Sign in to the console' }).waitFor()
  t.ok(await page.getByRole('button', { name: 'Sign in with single sign-on' }).isVisible(), 'single sign-on is offered when OIDC is configured')
  await screenshot(page, 'sign-in')
  await page.getByText('Bootstrap: sign in with the admin token').click()
  const token = page.getByLabel('Admin token')
  t.equal(await token.getAttribute('type'), 'password', 'the token field masks its value')

  await token.fill('not-the-admin-token-at-all')
  await page.getByRole('button', { name: 'Sign in with token' }).click()
  await page.locator('#admin-token-error').filter({ hasText: 'That token is not valid.' }).waitFor()
  t.equal(await page.evaluate(() => sessionStorage.length + localStorage.length), 0, 'a refused token is not kept')

  await token.fill(CONSOLE_ADMIN_TOKEN)
  await page.getByRole('button', { name: 'Sign in with token' }).click()
  await page.getByRole('heading', { name: 'All API Keys' }).waitFor()
  t.equal(new URL(page.url()).hash, '#/admin/keys', 'the token, which owns no keys, starts on the admin key list')
  t.equal(await page.evaluate(() => localStorage.length), 0, 'nothing in localStorage')
  t.equal(await page.evaluate(() => JSON.parse(sessionStorage.getItem('mcpgate.session') ?? '{}').kind), 'token', 'the session is in sessionStorage')

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'My API Keys' }).click()
  await page.getByText('bootstrap admin token, which is not a user').waitFor()
  t.ok(await page.getByRole('button', { name: 'Create API key' }).isDisabled(), 'the token cannot create keys of its own')

  await page.reload()
  await page.getByRole('heading', { name: 'API Keys', exact: true }).waitFor()
  t.pass('a reload keeps the session (same tab)')

  const other = await context.newPage()
  await other.goto('/')
  await other.getByRole('heading', { name: 'Sign in to the console' }).waitFor()
  t.pass('another tab starts signed out')
  await other.close()

  await page.getByRole('button', { name: /^Account menu for / }).click()
  await page.getByRole('menuitem', { name: 'Sign out' }).click()
  await page.getByRole('heading', { name: 'Sign in to the console' }).waitFor()
  t.equal(await page.evaluate(() => sessionStorage.length), 0, 'signing out clears the session')
  await page.reload()
  await page.getByRole('heading', { name: 'Sign in to the console' }).waitFor()
  t.pass('and it stays signed out after a reload')
  t.same(problems, [], 'no page errors or CSP violations')
})
