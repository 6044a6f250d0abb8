// Rotate from the key row's ⋮ menu in a real browser: the owner picks the overlap, the new key is
// shown once like at creation (copy, snippets), the row shows the rotation, and at the gateway the
// old key keeps working during the overlap; "At once" stops it (and the one before) right away.
// An admin rotates another user's key from All API Keys the same way.
import { setTimeout as delay } from 'node:timers/promises'
import type { Page } from 'playwright-core'
import { test } from 'tap'
import type { ApiKeyView } from '../../admin-api/schemas.ts'
import { launchBrowser, newPage, screenshot, signInWithOidc, startConsoleStack } from '../helpers/console-stack.ts'

const KEY_FORMAT = /^ok1-[A-Za-z0-9]+-[A-Za-z0-9]{16}-[A-Za-z0-9]{46}$/

async function tokenOf (page: Page): Promise<string> {
  return await page.evaluate(() => (JSON.parse(sessionStorage.getItem('mcpgate.session') ?? '{}') as { token: string }).token)
}

async function initializeStatus (gatewayUrl: string, key: string): Promise<number> {
  const res = await fetch(`${gatewayUrl}/mcp-connect/docs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } })
  })
  await res.arrayBuffer()
  return res.status
}

/** The gateway learns of a rotation through the store's invalidation log: wait for `want`. */
async function statusBecomes (gatewayUrl: string, key: string, want: number): Promise<number> {
  let status = 0
  for (const deadline = Date.now() + 5_000; Date.now() < deadline; await delay(25)) {
    status = await initializeStatus(gatewayUrl, key)
    if (status === want) break
  }
  return status
}

/** ⋮ → Rotate → the overlap → "Rotate key"; the new key from the one-time view, which is closed. */
async function rotate (page: Page, keyName: string, overlap: string | null): Promise<{ key: string, note: string }> {
  await page.getByRole('button', { name: `Actions for API key ${keyName}` }).click()
  await page.getByRole('menuitem', { name: 'Rotate' }).click()
  const dialog = page.getByRole('dialog', { name: 'Rotate API key' })
  await dialog.waitFor()
  if (overlap !== null) await dialog.getByRole('radio', { name: overlap }).check()
  await dialog.getByRole('button', { name: 'Rotate key' }).click()
  const shown = page.getByRole('dialog', { name: 'API key rotated' })
  await shown.waitFor()
  const key = await shown.getByLabel(/^API key/).inputValue()
  const note = await shown.locator('.rotation-note').textContent() ?? ''
  await shown.getByRole('button', { name: 'Done' }).click()
  await shown.waitFor({ state: 'detached' })
  return { key, note }
}

test('Rotate in the ⋮ menu shows the new key once and the old one works during the overlap', async t => {
  const stack = await startConsoleStack(t)
  const browser = await launchBrowser(t)
  const { page, problems } = await newPage(browser, stack.adminUrl)
  await signInWithOidc(page, 'bob')
  const token = await tokenOf(page)
  const getKey = async (id: string) => await (await fetch(`${stack.adminUrl}/api/api-keys/${id}`, { headers: { authorization: `Bearer ${token}` } })).json() as ApiKeyView

  const res = await fetch(`${stack.adminUrl}/api/api-keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Bob laptop', mcpServerIds: ['docs'] })
  })
  const original = await res.json() as { id: string, key: string }
  t.equal(await initializeStatus(stack.gatewayUrl, original.key), 200, 'the key works before the rotation')
  await page.reload()
  const row = page.getByRole('row', { name: /Bob laptop/ })
  t.equal(await row.locator('td[data-label="Rotated"]').textContent(), 'Never')

  // The dialog: the overlap choices, 24 hours chosen and focused.
  await page.getByRole('button', { name: 'Actions for API key Bob laptop' }).click()
  t.same(await page.getByRole('menuitem').allTextContents(), ['View details', 'Rotate', 'Delete'], 'the row menu offers Rotate')
  await page.getByRole('menuitem', { name: 'Rotate' }).click()
  const dialog = page.getByRole('dialog', { name: 'Rotate API key' })
  await dialog.waitFor()
  t.same(await dialog.getByRole('radio').evaluateAll(rs => rs.map(r => (r as HTMLInputElement).labels?.[0]?.textContent)), ['At once', '1 hour', '24 hours (default)', '7 days'], 'the overlap choices')
  t.equal(await dialog.getByRole('radio', { name: '24 hours (default)' }).isChecked(), true, '24 hours by default')
  t.equal(await page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.value), '86400', 'the focus is on the chosen overlap')
  t.match(await dialog.textContent(), /“Bob laptop”/, 'the dialog names the key')
  await page.keyboard.press('ArrowLeft')
  t.equal(await dialog.getByRole('radio', { name: '1 hour' }).isChecked(), true, 'arrow keys move between the choices')
  await screenshot(page, 'rotate-key-confirm')
  await page.keyboard.press('Escape')
  await dialog.waitFor({ state: 'detached' })
  t.equal(await (await getKey(original.id)).rotatedAt, undefined, 'Escape cancels: nothing rotated')

  // Rotate with a one-hour overlap.
  const before = Date.now()
  await page.getByRole('button', { name: 'Actions for API key Bob laptop' }).click()
  await page.getByRole('menuitem', { name: 'Rotate' }).click()
  await dialog.getByRole('radio', { name: '1 hour' }).check()
  await dialog.getByRole('button', { name: 'Rotate key' }).click()
  const shown = page.getByRole('dialog', { name: 'API key rotated' })
  await shown.waitFor()
  const rotated = await shown.getByLabel(/^API key/).inputValue()
  t.equal(await page.evaluate(() => document.activeElement?.id), 'created-key', 'the focus is on the new key')
  t.match(rotated, KEY_FORMAT, 'the new key is shown in full')
  t.not(rotated, original.key, 'a new secret')
  t.ok(rotated.includes(`-${original.id}-`), 'for the same key id')
  t.match(await shown.textContent(), /cannot be shown again/, 'once')
  t.match(await shown.locator('.rotation-note').textContent(), /^The old key keeps working until .+; then every gateway refuses it\.$/, 'the dialog says until when the old key works')
  await shown.getByRole('button', { name: 'Copy key' }).click()
  t.equal(await page.evaluate(() => navigator.clipboard.readText()), rotated, 'Copy key copies the new key')
  t.match(await shown.getByRole('tabpanel').locator('code').textContent(), `--header "Authorization: Bearer ${rotated}"`, 'the snippets carry the new key')
  await screenshot(page, 'rotate-key-shown')
  await shown.getByRole('button', { name: 'Done' }).click()
  await shown.waitFor({ state: 'detached' })

  const record = await getKey(original.id)
  t.ok(record.rotatedAt !== undefined && Date.parse(record.rotatedAt) >= before - 1000, 'the API\'s record shows the rotation')
  t.equal(record.secretGeneration, 1)
  const until = Date.parse(record.previousSecretValidUntil ?? '')
  t.ok(until >= before + 3_600_000 - 1000 && until <= Date.now() + 3_600_000 + 1000, 'and the old secret\'s end, an hour on')
  t.equal(await row.locator('td[data-label="Rotated"] time').first().getAttribute('datetime'), record.rotatedAt, 'the row shows when it was rotated')
  t.equal(await row.locator('td[data-label="Rotated"] .old-key time').getAttribute('datetime'), record.previousSecretValidUntil, 'and until when the old key works')
  t.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Actions for API key Bob laptop', 'the focus returns to the row menu')

  t.equal(await statusBecomes(stack.gatewayUrl, rotated, 200), 200, 'the new key works at the gateway')
  t.equal(await initializeStatus(stack.gatewayUrl, original.key), 200, 'and the old one still does, during the overlap')

  // Again, "At once": the secret in use stops now, and the older one (which had the overlap) too.
  const third = await rotate(page, 'Bob laptop', 'At once')
  t.equal(third.note, 'The old key no longer works: clients must use the new one now.')
  t.equal(await statusBecomes(stack.gatewayUrl, rotated, 401), 401, 'the second key is refused at once')
  t.equal(await initializeStatus(stack.gatewayUrl, original.key), 401, 'only the newest previous secret was kept, so the first is refused too')
  t.equal(await statusBecomes(stack.gatewayUrl, third.key, 200), 200, 'the third key works')
  t.equal(await row.locator('td[data-label="Rotated"] .old-key').count(), 0, 'no old key works any more: the row says nothing of one')
  t.equal((await getKey(original.id)).secretGeneration, 2)

  // An admin rotates bob's key from All API Keys (default overlap: 24 hours).
  const admin = await newPage(browser, stack.adminUrl)
  await signInWithOidc(admin.page, 'alice')
  await admin.page.goto('/#/admin/keys')
  const adminRow = admin.page.getByRole('row', { name: /Bob laptop/ })
  await adminRow.waitFor()
  const fourth = await rotate(admin.page, 'Bob laptop', null)
  t.match(fourth.key, KEY_FORMAT)
  t.match(fourth.note, /^The old key keeps working until /)
  const afterAdmin = await getKey(original.id)
  t.equal(afterAdmin.secretGeneration, 3, 'the admin route rotated it')
  t.ok(Math.abs(Date.parse(afterAdmin.previousSecretValidUntil ?? '') - Date.now() - 86_400_000) < 60_000, 'with 24 hours of overlap')
  t.match(await adminRow.locator('td[data-label="User"]').textContent(), /Bob Builder/, 'the row keeps its owner')
  t.equal(await adminRow.locator('td[data-label="Rotated"] .old-key time').getAttribute('datetime'), afterAdmin.previousSecretValidUntil)
  t.equal(await statusBecomes(stack.gatewayUrl, fourth.key, 200), 200, 'the admin\'s new key works')
  t.equal(await initializeStatus(stack.gatewayUrl, third.key), 200, 'and bob\'s current one keeps working for the overlap')

  t.same(problems, [], 'no page errors or CSP violations (owner)')
  t.same(admin.problems, [], 'no page errors or CSP violations (admin)')
})
