// The API Keys table in a real browser: every column sorts (dates as dates), long lists page,
// "All servers", "Never", expired keys and servers that are gone or out of reach are marked, and
// the page stays usable at phone width.
import { test } from 'tap'
import type { Page } from 'playwright-core'
import { generateKey } from '../../core/key-format.ts'
import { hashSecret } from '../../core/hashing.ts'
import type { ApiKeyRecord } from '../../core/store/store.ts'
import { launchBrowser, newPage, screenshot, signInWithOidc, startConsoleStack } from '../helpers/console-stack.ts'

const HOUR = 3600_000
const DAY = 24 * HOUR

async function firstNames (page: Page, n = 3): Promise<string[]> {
  return (await page.locator('tbody td[data-label="Name"]').allTextContents()).slice(0, n)
}

async function sortBy (page: Page, label: string, direction: 'ascending' | 'descending'): Promise<void> {
  const header = page.getByRole('columnheader', { name: label })
  for (let i = 0; i < 2 && await header.getAttribute('aria-sort') !== direction; i++) await header.getByRole('button').click()
}

test('the keys table sorts, pages and marks expired keys and unavailable servers', async t => {
  const stack = await startConsoleStack(t)
  const now = Date.now()
  // bob exists before his first sign-in (e.g. created by an admin); signing in matches the email.
  const bob = await stack.store.createUser({ email: 'bob@example.com', name: 'Bob Builder', role: 'user', groups: ['engineering'] })
  const secretHash = await hashSecret(generateKey(bob.id).secret, stack.config.hashing)
  const record = (name: string, fields: Partial<ApiKeyRecord>): ApiKeyRecord => ({
    id: generateKey(bob.id).keyId,
    userId: bob.id,
    name,
    description: '',
    mcpServerIds: ['docs'],
    createdAt: now - 30 * DAY,
    expiresAt: null,
    lastUsedAt: null,
    secretHash,
    ...fields
  })
  const records = [
    record('all-key', { mcpServerIds: ['*'], createdAt: now - 40 * DAY }),
    record('expired-key', { expiresAt: now - DAY, createdAt: now - 50 * DAY, description: 'old CI runner' }),
    record('soon-key', { expiresAt: now + 2 * DAY }),
    record('used-key', { lastUsedAt: now - HOUR }),
    record('used-long-ago-key', { lastUsedAt: now - 20 * DAY }),
    record('legacy-key', { mcpServerIds: ['docs', 'legacy'] }),
    record('tickets-key', { mcpServerIds: ['tickets'] })
  ]
  // "key 2" must sort before "key 10" (numeric collation); creation order is key 1 … key 18.
  for (let i = 1; i <= 18; i++) records.push(record(`key ${i}`, { createdAt: now - 20 * DAY + i * HOUR }))
  for (const r of records) await stack.store.createKey(r)

  const browser = await launchBrowser(t)
  const { page, problems } = await newPage(browser, stack.adminUrl)
  await signInWithOidc(page, 'bob')
  await page.getByRole('navigation', { name: 'Pagination' }).waitFor()

  t.equal(await page.getByRole('navigation', { name: 'Pagination' }).locator('.pager-status').textContent(), '1–20 of 25 · page 1 of 2', 'long lists are paged')
  t.equal(await page.getByRole('columnheader', { name: 'Created' }).getAttribute('aria-sort'), 'descending', 'newest first by default')
  t.same(await firstNames(page), ['key 18', 'key 17', 'key 16'])
  await page.getByRole('button', { name: 'Next' }).click()
  t.equal(await page.locator('.pager-status').textContent(), '21–25 of 25 · page 2 of 2')
  t.same((await page.locator('tbody td[data-label="Name"]').allTextContents()).slice(-2), ['all-key', 'expired-key'], 'page 2 holds the oldest keys')
  t.ok(await page.getByRole('button', { name: 'Next' }).isDisabled(), 'Next is disabled on the last page')

  await sortBy(page, 'Name', 'ascending')
  t.equal(await page.locator('.pager-status').textContent(), '1–20 of 25 · page 1 of 2', 'sorting returns to the first page')
  t.same(await firstNames(page, 5), ['all-key', 'expired-key', 'key 1', 'key 2', 'key 3'], 'names sort case- and number-aware')
  await sortBy(page, 'Name', 'descending')
  t.same(await firstNames(page, 2), ['used-long-ago-key', 'used-key'])

  await sortBy(page, 'Last Used', 'descending')
  t.same(await firstNames(page, 2), ['used-key', 'used-long-ago-key'], 'Last Used sorts as dates, never-used last')
  await sortBy(page, 'Expires', 'ascending')
  t.same(await firstNames(page, 2), ['expired-key', 'soon-key'], 'Expires sorts as dates, never-expiring last')
  await sortBy(page, 'Servers', 'descending')
  t.same(await firstNames(page, 2), ['all-key', 'legacy-key'], '"All servers" counts as the most')
  await sortBy(page, 'Description', 'descending')
  t.same(await firstNames(page, 1), ['expired-key'])
  await sortBy(page, 'Created', 'ascending')
  t.same(await firstNames(page, 2), ['expired-key', 'all-key'], 'Created sorts as dates')

  const row = (name: string) => page.getByRole('row', { name: new RegExp(`^${name} `) })
  t.match(await row('expired-key').locator('td[data-label="Expires"]').textContent(), /Expired$/, 'an expired key is marked')
  t.equal(await row('expired-key').getAttribute('class'), 'expired')
  t.notMatch(await row('soon-key').locator('td[data-label="Expires"]').textContent(), /Expired/)
  t.equal(await row('all-key').locator('td[data-label="Servers"] .servers').getAttribute('title'),
    'Every MCP server the owner can reach, now and later: Docs', '"*" reads All servers, with the names on hover')
  t.match(await row('all-key').locator('td[data-label="Servers"]').textContent(), /^All servers/)
  const legacy = row('legacy-key').locator('td[data-label="Servers"]')
  t.equal(await legacy.locator('.server-count').getAttribute('title'), 'Docs, legacy (no longer exists or is no longer reachable)')
  t.match(await legacy.locator('[data-flag="unavailable"]').textContent(), /1 unavailable/, 'a server that is gone is flagged')
  t.match(await row('tickets-key').locator('[data-flag="unavailable"]').getAttribute('title'), /tickets/, 'a server the owner cannot reach is flagged')
  t.equal(await row('key 1').locator('[data-flag]').count(), 0, 'reachable servers are not flagged')
  t.equal(await row('key 1').locator('td[data-label="Last Used"]').textContent(), 'Never')
  await screenshot(page, 'api-keys-sorted', { fullPage: true })

  await page.setViewportSize({ width: 390, height: 844 })
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)
  t.equal(overflow, 0, 'no horizontal scrolling at phone width')
  t.ok(await page.getByRole('button', { name: 'Create API key' }).isVisible(), 'the create button stays on screen')
  await page.getByLabel('Sort by').selectOption('name:asc')
  t.same(await firstNames(page, 2), ['all-key', 'expired-key'], 'on a phone, a select sorts the cards')
  await screenshot(page, 'api-keys-phone')
  t.same(problems, [], 'no page errors or CSP violations')
})
