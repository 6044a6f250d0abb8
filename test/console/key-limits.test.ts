// Rate limits and quotas in a real browser (issue 26): the create-key dialog's optional limits
// (whole numbers in the API's range, each error on its field and naming it), the key's detail
// view saying what is left of them after use through the gateway ("Used up" once spent), and the
// user's totals across their keys on the API Keys page — as the admin API counts them, at 1024
// and 390 px without a page-wide horizontal scroll.
import type { Page } from 'playwright-core'
import { test } from 'tap'
import type { KeyUsageView, MeView } from '../../admin-api/schemas.ts'
import type { Clock } from '../../core/clock.ts'
import { launchBrowser, newPage, screenshot, signInWithOidc, startConsoleStack } from '../helpers/console-stack.ts'

/**
 * Wall time, shifted once by `startMinute()` to the start of a minute (by at most 30 s either
 * way, inside the admin API's clock tolerance for ID tokens): the windows are fixed minutes, so
 * what the test counts cannot be split by a minute ending between the calls and the reads.
 */
class MinuteClock implements Clock {
  #offset = 0
  now (): number { return Date.now() + this.#offset }
  startMinute (): void {
    const real = Date.now()
    const start = Math.round(real / 60_000) * 60_000
    this.#offset = start + 1_000 - real
  }
}

async function tokenOf (page: Page): Promise<string> {
  return await page.evaluate(() => (JSON.parse(sessionStorage.getItem('mcpgate.session') ?? '{}') as { token: string }).token)
}

async function apiGet<T> (baseUrl: string, token: string, path: string): Promise<T> {
  const res = await fetch(`${baseUrl}${path}`, { headers: { authorization: `Bearer ${token}` } })
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`)
  return await res.json() as T
}

/** One JSON-RPC request through the gateway; the HTTP status and body. */
async function rpc (gatewayUrl: string, key: string, body: unknown): Promise<{ status: number, text: string }> {
  const res = await fetch(`${gatewayUrl}/mcp-connect/docs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify(body)
  })
  return { status: res.status, text: await res.text() }
}

/** No page-wide horizontal scroll: the document is as wide as the viewport. */
async function pageOverflow (page: Page): Promise<number> {
  return await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)
}

test('a key\'s limits: set in the create dialog, what is left on its detail view and the user\'s totals', async t => {
  const clock = new MinuteClock()
  const stack = await startConsoleStack(t, { clock, gateway: { limits: { perUser: { requestsPerMinute: 600, toolCallsPerDay: 1000 } } } })
  const browser = await launchBrowser(t)
  const { page, problems } = await newPage(browser, stack.adminUrl, { width: 1024, height: 800 })
  clock.startMinute()
  await signInWithOidc(page, 'carol')
  const token = await tokenOf(page)

  // The user's totals, before any use.
  const totals = page.getByRole('list', { name: 'Your limits across all of your keys' })
  await totals.waitFor()
  t.same(await totals.getByRole('listitem').allTextContents(), [
    'Requests this minute: 600 of 600 left across your keys',
    'Tool calls today: 1,000 of 1,000 left across your keys, resets 00:00 UTC'
  ], 'the API Keys page says the user\'s totals')

  // The dialog's limits: folded away, each problem on its field, naming it.
  await page.getByRole('button', { name: 'Create API key' }).first().click()
  const dialog = page.getByRole('dialog', { name: 'Create API key' })
  await dialog.getByLabel('Name').fill('Metered job')
  await dialog.getByRole('checkbox', { name: /^Docs/ }).check()
  const summary = dialog.getByText('Limits (optional)')
  t.equal(await dialog.getByLabel('Requests per minute').isVisible(), false, 'the limits start folded')
  await summary.click()
  const requests = dialog.getByLabel('Requests per minute')
  const toolCalls = dialog.getByLabel('Tool calls per day')
  const submit = dialog.getByRole('button', { name: 'Create API key' })
  for (const [typed, field] of [['0', 'requests'], ['1.5', 'requests'], ['-3', 'toolCalls'], ['200000000', 'toolCalls']] as const) {
    await requests.fill(field === 'requests' ? typed : '')
    await toolCalls.fill(field === 'toolCalls' ? typed : '')
    await submit.click()
    const [input, error, label, other] = field === 'requests'
      ? [requests, '#key-requests-per-minute-error', 'Requests per minute', '#key-tool-calls-per-day-error']
      : [toolCalls, '#key-tool-calls-per-day-error', 'Tool calls per day', '#key-requests-per-minute-error']
    t.equal(await dialog.locator(error).textContent(), `${label}: enter a whole number from 1 to 100,000,000, or leave it empty for the default.`, `${typed}: refused on its field, naming it`)
    t.equal(await input.getAttribute('aria-invalid'), 'true')
    t.ok(await input.evaluate(el => el === document.activeElement), 'the focus moves to it')
    t.equal(await dialog.locator(other).isHidden(), true, 'the other field has no error')
  }
  await dialog.getByRole('checkbox', { name: /^Docs/ }).uncheck()
  await submit.click()
  t.equal(await dialog.locator('#key-servers-error').isVisible(), true, 'with other problems too, the limits are checked')
  t.equal(await dialog.locator('#key-tool-calls-per-day-error').isVisible(), true)
  await dialog.getByRole('checkbox', { name: /^Docs/ }).check()
  await screenshot(page, 'create-key-limits')
  t.equal(await pageOverflow(page), 0, 'no horizontal scroll at 1024 px')

  await requests.fill('30')
  await toolCalls.fill('3')
  await submit.click()
  const created = page.getByRole('dialog', { name: 'API key created' })
  const key = await created.getByLabel(/^API key/).inputValue()
  await created.getByRole('button', { name: 'Done' }).click()
  await created.waitFor({ state: 'detached' })
  const [record] = (await apiGet<{ items: Array<{ id: string, limits?: unknown }> }>(stack.adminUrl, token, '/api/api-keys')).items
  t.same(record?.limits, { requestsPerMinute: 30, toolCallsPerDay: 3 }, 'the key holds its limits')

  // Through the gateway: initialize and three tool calls (the quota), then a fourth, refused.
  const call = (id: number) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'ping', arguments: {} } })
  t.equal((await rpc(stack.gatewayUrl, key, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } })).status, 200)
  for (const id of [2, 3, 4]) t.match((await rpc(stack.gatewayUrl, key, call(id))).text, /pong/, `tool call ${id - 1} of 3`)
  t.notMatch((await rpc(stack.gatewayUrl, key, call(5))).text, /pong/, 'the fourth is refused')

  // The detail view: what is left, as the API counts it.
  await page.getByRole('link', { name: 'Metered job' }).click()
  const limits = page.getByRole('region', { name: 'Limits' })
  await limits.getByRole('listitem').first().waitFor()
  const usage = await apiGet<KeyUsageView>(stack.adminUrl, token, `/api/api-keys/${record?.id ?? ''}/usage`)
  const left = (scope: string, kind: string) => usage.limits.find(l => l.scope === scope && l.kind === kind)?.remaining.toLocaleString('en-US')
  t.same(usage.limits.filter(l => l.scope === 'key').map(l => [l.kind, l.remaining]), [['requests', 25], ['toolCalls', 0]],
    'the API counts five requests and the three calls the quota had')
  t.same(await limits.getByRole('list', { name: 'This key' }).getByRole('listitem').allTextContents(), [
    'Requests: 25 of 30 left this minute',
    'Tool calls: 0 of 3 left today, resets 00:00 UTC Used up'
  ], 'the key\'s own limits, with what is left')
  t.same(await limits.getByRole('list', { name: 'Your totals across all of your keys' }).getByRole('listitem').allTextContents(), [
    `Requests: ${left('user', 'requests')} of 600 left this minute`,
    `Tool calls: ${left('user', 'toolCalls')} of 1,000 left today, resets 00:00 UTC`
  ], 'and the user\'s totals, apart')
  t.equal(await limits.locator('[data-limit="key:toolCalls"] .badge').textContent(), 'Used up', 'a spent quota says so in words')
  t.equal(await limits.locator('[data-limit="key:toolCalls"] time').getAttribute('datetime'), usage.limits.find(l => l.kind === 'toolCalls')?.resetAt, 'the reset time, exact in datetime')
  t.equal(await pageOverflow(page), 0, 'no horizontal scroll at 1024 px')

  // Back on API Keys: the totals read again, as GET /api/me says now.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'My API Keys' }).click()
  await page.getByRole('row', { name: /Metered job/ }).waitFor()
  const me = await apiGet<MeView>(stack.adminUrl, token, '/api/me')
  const mine = (kind: string) => me.limits.find(l => l.kind === kind)?.remaining.toLocaleString('en-US')
  t.same(await totals.getByRole('listitem').allTextContents(), [
    `Requests this minute: ${mine('requests')} of 600 left across your keys`,
    `Tool calls today: ${mine('toolCalls')} of 1,000 left across your keys, resets 00:00 UTC`
  ], 'the totals after use')
  t.ok(Number(mine('toolCalls')?.replace(/,/g, '')) <= 997, 'three tool calls are counted (or leased) against the total')

  // Phone width: the same, with no page-wide horizontal scroll.
  await page.setViewportSize({ width: 390, height: 844 })
  t.equal(await pageOverflow(page), 0, 'API Keys with the totals: no horizontal scroll at 390 px')
  t.ok(await totals.evaluate(el => el.getBoundingClientRect().right <= document.documentElement.clientWidth), 'the totals fit the width')
  await page.getByRole('link', { name: 'Metered job' }).click()
  await limits.getByRole('listitem').first().waitFor()
  t.equal(await pageOverflow(page), 0, 'the detail view with its limits: no horizontal scroll at 390 px')
  await screenshot(page, 'key-limits-390', { fullPage: true })
  t.same(problems, [], 'no page errors or CSP violations')
})
