// User Management → Audit in a real browser: an admin filters the trail by outcome (and by time),
// pages through it, and exports the filtered view as CSV and as JSONL whose rows are exactly the
// events shown (read from the downloads); a non-admin has no such page.
import { readFileSync } from 'node:fs'
import type { Download, Page } from 'playwright-core'
import { test } from 'tap'
import type { AuditEventView, Page as ApiPage } from '../../admin-api/schemas.ts'
import type { AuditEvent } from '../../core/audit.ts'
import { launchBrowser, newPage, screenshot, signInWithOidc, startConsoleStack } from '../helpers/console-stack.ts'

async function tokenOf (page: Page): Promise<string> {
  return await page.evaluate(() => (JSON.parse(sessionStorage.getItem('mcpgate.session') ?? '{}') as { token: string }).token)
}

async function apiGet<T> (baseUrl: string, token: string, path: string): Promise<T> {
  const res = await fetch(`${baseUrl}${path}`, { headers: { authorization: `Bearer ${token}` } })
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`)
  return await res.json() as T
}

/** An RFC 4180 reader. */
function parseCsv (text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let field = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++ } else if (c === '"') quoted = false
      else field += c
    } else if (c === '"') quoted = true
    else if (c === ',') { row.push(field); field = '' } else if (c === '\r' && text[i + 1] === '\n') { row.push(field); rows.push(row); row = []; field = ''; i++ } else field += c
  }
  return rows
}

async function downloaded (page: Page, click: () => Promise<void>): Promise<{ name: string, text: string }> {
  const [download] = await Promise.all([page.waitForEvent('download'), click()]) as [Download, void]
  const file = await download.path()
  return { name: download.suggestedFilename(), text: readFileSync(file, 'utf8') }
}

const shownIds = (page: Page) => page.locator('.events-table tbody tr').evaluateAll(trs => trs.map(tr => tr.getAttribute('data-event-id')))

test('admins filter the audit trail and export what they see; non-admins have no Audit page', async t => {
  const stack = await startConsoleStack(t)
  const browser = await launchBrowser(t)

  const bob = await newPage(browser, stack.adminUrl)
  await signInWithOidc(bob.page, 'bob')
  const bobToken = await tokenOf(bob.page)
  const created = await fetch(`${stack.adminUrl}/api/api-keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${bobToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Bob CI', mcpServerIds: ['docs'] })
  })
  const bobKey = await created.json() as { id: string, userId: string }

  // 60 events a minute apart, allowed / denied / error in turn; every other one bob's. Some carry
  // what a CSV must quote, and a user agent a spreadsheet would run as a formula.
  const now = Date.now()
  const outcomes = ['allowed', 'denied', 'error'] as const
  const seeded: AuditEvent[] = Array.from({ length: 60 }, (_, i) => {
    const outcome = outcomes[i % 3] as AuditEvent['outcome']
    const bobs = i % 2 === 0
    return {
      time: now - (60 - i) * 60_000,
      requestId: `req-${i}`,
      keyId: bobs ? bobKey.id : 'OtherKey00000000',
      userId: bobs ? bobKey.userId : null,
      serverId: i % 4 === 0 ? 'tickets' : 'docs',
      method: 'tools/call',
      name: i === 7 ? 'search, "quoted"\nsecond line' : `tool_${i % 5}`,
      outcome,
      ...(outcome === 'allowed' ? {} : { code: outcome === 'denied' ? 'MCPGATE_TOOL_NOT_ALLOWED' : 'MCPGATE_UPSTREAM_ERROR' }),
      status: outcome === 'error' ? 502 : 200,
      durationMs: 1 + i / 10,
      bytesIn: 100 + i,
      bytesOut: 200 + i,
      ip: `10.0.0.${i}`,
      userAgent: i === 10 ? '=HYPERLINK("http://example.com")' : 'agent/1.0 (linux, x64)'
    }
  })
  await stack.store.appendAudit(seeded, { olderThan: now - 30 * 86_400_000, maxEvents: 1_000_000 })

  // Non-admins: no Audit entry, and the address says it is not for them.
  t.equal(await bob.page.getByRole('link', { name: 'Audit' }).count(), 0, 'a non-admin sees no Audit link')
  await bob.page.goto('/#/admin/audit')
  await bob.page.getByRole('heading', { level: 1, name: 'Not allowed' }).waitFor()
  t.equal(await bob.page.locator('.audit-table, table').count(), 0, 'the Audit page typed by hand shows no events, only that it is not allowed')
  const bobsEvents = await apiGet<ApiPage<AuditEventView>>(stack.adminUrl, bobToken, '/api/audit-events?limit=100')
  t.equal(bobsEvents.items.length, 30, 'and the API gives them their own keys\' events only')
  t.ok(bobsEvents.items.every(e => e.keyId === bobKey.id))

  const { page, problems } = await newPage(browser, stack.adminUrl)
  await signInWithOidc(page, 'alice')
  const token = await tokenOf(page)
  const nav = page.getByRole('navigation', { name: 'Main' })
  await nav.getByRole('link', { name: 'Audit' }).click()
  await page.getByRole('heading', { level: 1, name: 'Audit' }).waitFor()
  await page.getByText('Page 1: 50 events').waitFor()
  const all = (await apiGet<ApiPage<AuditEventView>>(stack.adminUrl, token, '/api/audit-events?limit=100')).items
  t.same(await shownIds(page), all.slice(0, 50).map(e => e.id), 'the newest 50 events, newest first')
  const bobRow = page.locator(`.events-table tr[data-event-id="${all[1]?.id ?? ''}"]`)
  t.equal(await bobRow.locator('td[data-label="Key"] .event-user').textContent(), 'Bob Builder (bob@example.com)', 'the key\'s owner is named')
  t.equal(await bobRow.locator('td[data-label="Key"] a').getAttribute('href'), `#/admin/keys/key?id=${bobKey.id}`, 'the key links to its detail view')
  await page.getByRole('button', { name: 'Older' }).click()
  await page.getByText('Page 2: 10 events').waitFor()
  t.same(await shownIds(page), all.slice(50).map(e => e.id), 'Older shows the rest')
  await screenshot(page, 'audit-all')

  // Filter by outcome.
  await page.getByLabel('Outcome').selectOption('denied')
  await page.getByRole('button', { name: 'Apply filters' }).click()
  await page.waitForURL(/#\/admin\/audit\?outcome=denied$/)
  await page.getByText('Page 1: 20 events').waitFor()
  const denied = (await apiGet<ApiPage<AuditEventView>>(stack.adminUrl, token, '/api/audit-events?outcome=denied&limit=100')).items
  t.equal(denied.length, 20)
  const ids = await shownIds(page)
  t.same(ids, denied.map(e => e.id), 'the filtered view shows every denied event')
  t.same([...new Set(await page.locator('.events-table td[data-label="Outcome"] .badge').allTextContents())], ['Denied'], 'and only those')
  t.equal(await page.getByRole('button', { name: 'Older' }).isDisabled(), true, 'on one page')
  t.equal(await page.getByLabel('Outcome').inputValue(), 'denied', 'the form shows the filter in force')
  await screenshot(page, 'audit', { docs: true })

  // CSV of the filtered view: the same events, in the same order, every field readable.
  const csv = await downloaded(page, () => page.getByRole('button', { name: 'Export CSV' }).click())
  t.match(csv.name, /^mcpgate-audit-.*\.csv$/, 'a .csv download')
  const rows = parseCsv(csv.text)
  const header = rows[0] as string[]
  const col = (name: string) => header.indexOf(name)
  t.ok(['time', 'id', 'requestId', 'keyId', 'userId', 'serverId', 'method', 'name', 'outcome', 'code', 'status', 'durationMs', 'ip', 'userAgent'].every(c => col(c) >= 0), 'the header names the fields')
  const body = rows.slice(1)
  t.same(body.map(r => r[col('id')]), ids, 'one row per shown event, in order')
  t.same([...new Set(body.map(r => r[col('outcome')]))], ['denied'])
  for (const e of denied) {
    const r = body.find(row => row[col('id')] === e.id) as string[]
    t.same([r[col('time')], r[col('requestId')], r[col('keyId')], r[col('name')], r[col('code')], r[col('status')], r[col('ip')]],
      [e.time, e.requestId, e.keyId ?? '', e.name ?? '', e.code ?? '', String(e.status), e.ip], `event ${e.requestId} reads back`)
  }
  const quoted = body.find(r => r[col('requestId')] === 'req-7')
  t.equal(quoted?.[col('name')], 'search, "quoted"\nsecond line', 'a comma, quotes and a line break survive the quoting')
  const formula = body.find(r => r[col('requestId')] === 'req-10')
  t.equal(formula?.[col('userAgent')], '\'=HYPERLINK("http://example.com")', 'a formula-like text is defused with an apostrophe')
  t.match(await page.getByRole('status').filter({ hasText: 'Exported' }).textContent(), /^Exported 20 events to mcpgate-audit-.*\.csv\.$/, 'the console says what it exported')

  // JSONL: the API's events themselves.
  const jsonl = await downloaded(page, () => page.getByRole('button', { name: 'Export JSONL' }).click())
  t.match(jsonl.name, /^mcpgate-audit-.*\.jsonl$/)
  const lines = jsonl.text.split('\n')
  t.equal(lines.pop(), '', 'newline-terminated')
  t.same(lines.map(l => JSON.parse(l) as unknown), denied, 'one JSON event per line, exactly as the API answers')

  // A time filter, typed in local time.
  await page.getByRole('button', { name: 'Clear' }).click()
  await page.waitForURL(/#\/admin\/audit$/)
  await page.getByText('Page 1: 50 events').waitFor()
  const from = seeded[50]?.time as number
  // The browser's local time (no named helper inside: the test's transpiler would wrap it).
  const local = await page.evaluate(ms => {
    const d = new Date(ms)
    return [d.getFullYear(), '-', d.getMonth() + 1, '-', d.getDate(), 'T', d.getHours(), ':', d.getMinutes()]
      .map(v => typeof v === 'number' && v < 100 ? String(v).padStart(2, '0') : String(v)).join('')
  }, from)
  await page.getByLabel('Since').fill(local)
  await page.getByRole('button', { name: 'Apply filters' }).click()
  await page.waitForURL(/since=/)
  await page.getByText('Page 1: 10 events').waitFor()
  t.same(await shownIds(page), all.slice(0, 10).map(e => e.id), 'since the minute of the 51st event: the last ten')

  // Since after Until is refused in the form.
  await page.getByLabel('Until').fill(local.replace(/T\d\d/, 'T00'))
  const hash = new URL(page.url()).hash
  await page.getByRole('button', { name: 'Apply filters' }).click()
  await page.getByText('Until must be after Since.').waitFor()
  t.equal(new URL(page.url()).hash, hash, 'nothing is asked of the API')
  t.equal(await page.evaluate(() => document.activeElement?.id), 'audit-until', 'the focus goes to the field to fix')

  t.same(problems, [], 'no page errors or CSP violations')
  t.same(bob.problems, [])
})
