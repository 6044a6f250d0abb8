// A key's detail view in a real browser: a key used through the gateway (allowed calls, a tool
// outside its scope, a server outside its scope) on top of older events seeded into the store
// shows its calls per day (chart and numbers table, denied and errors apart), top tools, last use
// (time, IP, user agent) and its audit events a page at a time, as the API answers them — for
// its owner from API Keys, and for an admin from All API Keys.
import { setTimeout as delay } from 'node:timers/promises'
import type { Page } from 'playwright-core'
import { test } from 'tap'
import type { AuditEventView, KeyUsageView, Page as ApiPage } from '../../admin-api/schemas.ts'
import type { AuditEvent } from '../../core/audit.ts'
import { launchBrowser, newPage, screenshot, signInWithOidc, startConsoleStack } from '../helpers/console-stack.ts'

const DAY = 86_400_000
const AGENT = 'console-test-agent/1.0 (detail view)'

async function tokenOf (page: Page): Promise<string> {
  return await page.evaluate(() => (JSON.parse(sessionStorage.getItem('mcpgate.session') ?? '{}') as { token: string }).token)
}

async function apiGet<T> (baseUrl: string, token: string, path: string): Promise<T> {
  const res = await fetch(`${baseUrl}${path}`, { headers: { authorization: `Bearer ${token}` } })
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`)
  return await res.json() as T
}

/** One JSON-RPC request through the gateway; the HTTP status. */
async function rpc (gatewayUrl: string, serverId: string, key: string, body: unknown): Promise<number> {
  const res = await fetch(`${gatewayUrl}/mcp-connect/${serverId}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'user-agent': AGENT },
    body: JSON.stringify(body)
  })
  await res.arrayBuffer()
  return res.status
}

/** The rows of the numbers table beside the chart: day → [calls, allowed, denied, errors]. */
async function numbersTable (page: Page): Promise<string[][]> {
  return await page.locator('.usage-numbers tbody tr').evaluateAll(rows => rows.map(r => [...r.children].map(c => c.textContent ?? '')))
}

test('a key\'s detail view shows its usage and recent events', async t => {
  // With a quota of its own and a total for its owner, the Limits card shows too (the README's screenshot).
  const stack = await startConsoleStack(t, { audit: { flushMs: 20 }, gateway: { limits: { perUser: { toolCallsPerDay: 1000 } } } })
  const browser = await launchBrowser(t)
  const { page, problems } = await newPage(browser, stack.adminUrl)
  await signInWithOidc(page, 'bob')
  const token = await tokenOf(page)

  // A key on docs that may call `ping` only.
  const created = await fetch(`${stack.adminUrl}/api/api-keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Bob laptop', mcpServerIds: ['docs'], scopes: { docs: { tools: ['ping'] } }, limits: { toolCallsPerDay: 500 } })
  })
  const { id: keyId, userId, key } = await created.json() as { id: string, userId: string, key: string }

  // 30 older events over the 5 days before today (allowed, denied, error in turn), stored first so
  // that the store's order (newest first) is also the order of time.
  const now = Date.now()
  const outcomes = ['allowed', 'denied', 'error'] as const
  const seeded: AuditEvent[] = Array.from({ length: 30 }, (_, i) => {
    const outcome = outcomes[i % 3] as AuditEvent['outcome']
    return {
      time: now - (5 - Math.floor(i / 6)) * DAY + i * 1000,
      requestId: `seed-${i}`,
      keyId,
      userId,
      secretGeneration: 0,
      serverId: 'docs',
      method: 'tools/call',
      name: 'seeded_tool',
      outcome,
      ...(outcome === 'allowed' ? {} : { code: outcome === 'denied' ? 'MCPGATE_TOOL_NOT_ALLOWED' : 'MCPGATE_UPSTREAM_ERROR' }),
      status: outcome === 'error' ? 502 : 200,
      durationMs: 2.5,
      bytesIn: 100,
      bytesOut: 200,
      ip: '10.0.0.9',
      userAgent: 'seeded-agent/1'
    }
  })
  await stack.store.appendAudit(seeded, { olderThan: now - 40 * DAY, maxEvents: 1_000_000 })

  // Through the gateway: initialize and two pings (allowed), a tool outside the key's scope
  // (denied, JSON-RPC error), a server outside it (404, denied).
  const call = (id: number, name: string) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {} } })
  t.equal(await rpc(stack.gatewayUrl, 'docs', key, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } }), 200)
  t.equal(await rpc(stack.gatewayUrl, 'docs', key, call(2, 'ping')), 200)
  t.equal(await rpc(stack.gatewayUrl, 'docs', key, call(3, 'ping')), 200)
  t.equal(await rpc(stack.gatewayUrl, 'docs', key, call(4, 'delete_everything')), 200, 'a tool outside the scope is answered with a JSON-RPC error')
  t.equal(await rpc(stack.gatewayUrl, 'vault', key, call(5, 'ping')), 404, 'a server outside the scope is refused')

  // The gateway writes its events in batches: wait for all five.
  let events: AuditEventView[] = []
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; await delay(50)) {
    events = (await apiGet<ApiPage<AuditEventView>>(stack.adminUrl, token, `/api/audit-events?keyId=${keyId}&limit=100`)).items
    if (events.length >= 35) break
  }
  t.equal(events.length, 35, 'the five requests and the thirty seeded events are in the trail')
  const usage = await apiGet<KeyUsageView>(stack.adminUrl, token, `/api/api-keys/${keyId}/usage`)

  // From API Keys, the key's name opens its detail view.
  await page.reload()
  await page.getByRole('link', { name: 'Bob laptop' }).click()
  await page.getByRole('heading', { level: 1, name: 'Bob laptop' }).waitFor()
  t.match(new URL(page.url()).hash, `#/keys/key?id=${keyId}`, 'the detail view has its own address')
  t.equal(await page.evaluate(() => document.activeElement?.id), 'page-title', 'the focus moves to the heading')
  t.equal(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'My API Keys' }).getAttribute('aria-current'), 'true', 'the sidebar marks the section')

  const details = page.getByRole('region', { name: 'Details' })
  t.equal(await details.locator('dt:has-text("Key ID") + dd').textContent(), keyId)
  t.match(await details.locator('dt:has-text("Servers") + dd').textContent(), /1 server · 1 tool/)
  t.equal(await details.locator('dt:has-text("Rotated") + dd').textContent(), 'Never')
  const limits = page.getByRole('region', { name: 'Limits' })
  await limits.getByRole('listitem').first().waitFor()
  t.same(await limits.getByRole('heading', { level: 3 }).allTextContents(), ['This key', 'Your totals across all of your keys'], 'its limits, the key\'s and the owner\'s (key-limits.test.ts: the numbers)')

  // The chart and its numbers.
  const usageCard = page.getByRole('region', { name: 'Usage, last 30 days' })
  await usageCard.locator('figure').waitFor()
  const total = usage.daily.reduce((n, d) => n + d.calls, 0)
  const denied = usage.daily.reduce((n, d) => n + d.denied, 0)
  const errors = usage.daily.reduce((n, d) => n + d.errors, 0)
  t.equal(total, 35)
  t.equal(denied, 12, 'ten seeded and two through the gateway')
  t.equal(errors, 10)
  t.match(await usageCard.locator('figcaption').textContent(), '35 calls in the last 30 days: 13 allowed, 12 denied, 10 errors.', 'the summary says the totals')
  t.equal(await usageCard.getByRole('img').count(), 1, 'the chart is one image to assistive technology')
  t.equal(await usageCard.locator('svg.usage-chart g.day').count(), usage.daily.length, 'a column per day')
  t.equal(await usageCard.locator('svg.usage-chart rect.bar-denied').count(), 6, 'denied calls have their own (hatched) bars: 5 seeded days and today')
  t.equal(await usageCard.locator('svg.usage-chart rect.bar-errors').count(), 5, 'errors too')
  t.match(await usageCard.locator('svg.usage-chart g.day').last().locator('title').textContent(), /5 calls \(2 denied\)/, 'today\'s column says its numbers on hover')

  await page.getByRole('region', { name: 'Recent events' }).locator('tbody tr').first().waitFor()
  await screenshot(page, 'key-detail', { docs: true, fullPage: true })
  await usageCard.getByText('Show the numbers per day').click()
  const rows = await numbersTable(page)
  t.equal(rows.length, usage.daily.length, 'the numbers table has every day')
  const expected = [...usage.daily].reverse().map(d => [String(d.calls), String(d.calls - d.denied - d.errors), String(d.denied), String(d.errors)])
  t.same(rows.map(r => r.slice(1)), expected, 'calls, allowed, denied and errors per day, newest first, as the API counts them')
  t.same(rows[0]?.slice(1), ['5', '3', '2', '0'], 'today: initialize and two pings allowed, two refusals')

  t.same(await page.getByRole('region', { name: 'Top tools' }).locator('tbody tr').evaluateAll(trs => trs.map(tr => tr.textContent)),
    ['seeded_tool10', 'ping2'], 'top tools: allowed tool calls, most first')
  const last = page.getByRole('region', { name: 'Last used' })
  t.equal(await last.locator('dt:has-text("IP address") + dd').textContent(), '127.0.0.1', 'last used from the client\'s IP')
  t.equal(await last.locator('dt:has-text("User agent") + dd').textContent(), AGENT, 'with its user agent')
  t.equal(await last.locator('dt:has-text("Time") + dd time').getAttribute('datetime'), usage.lastUsed?.time, 'at the time of the last allowed call')

  // Recent events: 20 a page, as the API lists them.
  const eventsCard = page.getByRole('region', { name: 'Recent events' })
  const eventRows = eventsCard.locator('tbody tr')
  t.same(await eventRows.evaluateAll(trs => trs.map(tr => tr.getAttribute('data-event-id'))), events.slice(0, 20).map(e => e.id), 'the first page: the newest 20 events')
  const cells = await eventRows.evaluateAll(trs => trs.slice(0, 5).map(tr => Object.fromEntries([...tr.querySelectorAll('td')].map(td => [td.dataset.label, td.textContent]))))
  const newest = events.slice(0, 5)
  t.same(cells.map(c => [c.Method, c.Name, c.Outcome, c.Code, c.Status]), newest.map(e => [e.method, e.name ?? '—', e.outcome === 'allowed' ? 'Allowed' : e.outcome === 'denied' ? 'Denied' : 'Error', e.code ?? '—', String(e.status)]),
    'method, name, outcome, code and status of each event')
  t.same(newest.map(e => e.requestId.startsWith('seed-')), [false, false, false, false, false], 'the gateway\'s five requests are the newest')
  t.same(newest.slice(1, 4).map(e => [e.name, e.outcome]), [['delete_everything', 'denied'], ['ping', 'allowed'], ['ping', 'allowed']], 'the tool outside the scope is denied, the pings allowed')
  t.same([newest[0]?.outcome, newest[0]?.status], ['denied', 404], 'the server outside the scope: denied, 404')
  t.match(cells[1]?.Code, /^MCPGATE_/, 'a refusal shows its code')
  t.ok(cells.every(c => /\d+(\.\d)? ms$/.test(c.Duration ?? '')), 'durations in ms')

  await eventsCard.getByRole('button', { name: 'Older' }).click()
  await eventsCard.getByText('Page 2: 15 events').waitFor()
  t.same(await eventRows.evaluateAll(trs => trs.map(tr => tr.getAttribute('data-event-id'))), events.slice(20).map(e => e.id), 'Older: the next page by the cursor')
  t.equal(await eventsCard.getByRole('button', { name: 'Older' }).isDisabled(), true, 'the last page has no older one')
  t.equal(await page.evaluate(() => document.activeElement?.textContent), 'Newer', 'the focus stays on the pager')
  await eventsCard.getByRole('button', { name: 'Newer' }).click()
  await eventsCard.getByText('Page 1: 20 events').waitFor()

  // An admin sees the same from All API Keys, with the owner.
  const admin = await newPage(browser, stack.adminUrl)
  await signInWithOidc(admin.page, 'alice')
  await admin.page.goto('/#/admin/keys')
  await admin.page.getByRole('button', { name: 'Actions for API key Bob laptop' }).click()
  await admin.page.getByRole('menuitem', { name: 'View details' }).click()
  await admin.page.getByRole('heading', { level: 1, name: 'Bob laptop' }).waitFor()
  t.match(new URL(admin.page.url()).hash, `#/admin/keys/key?id=${keyId}`)
  t.equal(await admin.page.locator('dt:has-text("Owner") + dd').textContent(), 'Bob Builder (bob@example.com)', 'the admin view names the owner')
  await admin.page.locator('.usage figcaption').waitFor()
  t.match(await admin.page.locator('.usage figcaption').textContent(), /^35 calls/, 'the same usage through the admin route')
  await admin.page.getByRole('region', { name: 'Recent events' }).locator('tbody tr').first().waitFor()
  t.equal(await admin.page.getByRole('region', { name: 'Recent events' }).locator('tbody tr').count(), 20)
  t.equal(await admin.page.getByRole('link', { name: 'Filter and export these events on the Audit page' }).getAttribute('href'), `#/admin/audit?keyId=${keyId}`)

  t.same(problems, [], 'no page errors or CSP violations (owner)')
  t.same(admin.problems, [], 'no page errors or CSP violations (admin)')
})
