// When the admin API cannot be reached, or fails on its side, the console offers Retry, in a
// real browser (issue 28). Requests are cut at the browser's network layer (Playwright routes):
// at start with a saved session (kept for the retry, not signed out), on a page's list, and on a
// 503 from the API; once the API answers again, Retry shows the page.
import { test } from 'tap'
import { launchBrowser, newPage, signInWithOidc, startConsoleStack } from '../helpers/console-stack.ts'

test('Retry when the admin API is unreachable', async t => {
  const stack = await startConsoleStack(t)
  const browser = await launchBrowser(t)
  const { page, problems } = await newPage(browser, stack.adminUrl, { width: 1024, height: 800 })
  await signInWithOidc(page, 'alice')
  await page.getByRole('heading', { name: 'No API keys yet' }).waitFor()

  // At start (a reload with the session saved): the API is unreachable.
  const cut = (route: { abort: (code: string) => Promise<void> }) => route.abort('connectionrefused')
  await page.route('**/api/me', cut)
  await page.reload()
  const startError = page.getByRole('alert')
  await startError.filter({ hasText: 'could not start' }).waitFor()
  t.equal(await startError.textContent(), 'The console could not start. The admin API cannot be reached. Check your connection, then retry.Retry')
  t.ok(await page.evaluate(() => sessionStorage.getItem('mcpgate.session') !== null), 'the session is kept, not signed out')
  t.equal(await page.evaluate(() => document.activeElement?.textContent), 'Retry', 'the focus is on Retry')
  await page.getByRole('button', { name: 'Retry' }).click()
  await startError.filter({ hasText: 'could not start' }).getByRole('button', { name: 'Retry' }).waitFor()
  t.pass('still unreachable: Retry again')
  await page.unroute('**/api/me', cut)
  await page.getByRole('button', { name: 'Retry' }).click()
  await page.getByRole('heading', { name: 'No API keys yet' }).waitFor()
  t.pass('reachable again: the console, signed in')

  // A page's list.
  await page.route('**/api/users?*', cut)
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click()
  const listError = page.getByRole('alert').filter({ hasText: 'cannot be reached' })
  await listError.waitFor()
  t.equal(await listError.textContent(), 'The admin API cannot be reached. Check your connection, then retry.Retry')
  await page.unroute('**/api/users?*', cut)
  await listError.getByRole('button', { name: 'Retry' }).click()
  await page.getByRole('row', { name: /Alice Admin/ }).waitFor()
  t.equal(await page.evaluate(() => document.activeElement?.id), 'page-title', 'the page again, the focus on its heading')

  // A 503 from the API (the store is down): Retry too, and the words for it.
  const down = (route: { fulfill: (r: { status: number, contentType: string, body: string }) => Promise<void> }) => route.fulfill({
    status: 503,
    contentType: 'application/json',
    body: JSON.stringify({ statusCode: 503, code: 'MCPGATE_STORE_UNAVAILABLE', error: 'Service Unavailable', message: 'The key store is unavailable; retry shortly' })
  })
  await page.route('**/api/admin-api-keys?*', down)
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'All API Keys' }).click()
  const storeError = page.getByRole('alert').filter({ hasText: 'key store' })
  await storeError.waitFor()
  t.equal(await storeError.textContent(), 'The key store is unavailable right now. Try again in a moment.Retry')
  await page.unroute('**/api/admin-api-keys?*', down)
  await storeError.getByRole('button', { name: 'Retry' }).click()
  await page.getByRole('heading', { name: 'No API keys' }).waitFor()
  t.pass('the page, once the API answers')

  // A refusal that a retry cannot change gets no Retry button.
  await page.goto('/#/admin/keys/key?id=AAAAAAAAAAAAAAAA')
  const missing = page.getByRole('alert').filter({ hasText: 'no longer exists' })
  await missing.waitFor()
  t.equal(await missing.getByRole('button', { name: 'Retry' }).count(), 0, 'a missing key: no Retry')
  t.same(problems, [], 'no page errors or CSP violations')
})
