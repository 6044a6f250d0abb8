// Wide tables at 1024 and 390 px in a real browser (issue 28): All API Keys and Users have no
// page-wide horizontal scroll (the visually-hidden texts inside a table stay in its scroll box),
// every row's ⋮ button is in view without scrolling the table sideways, and an open row menu —
// the last row's too — is never clipped by the table: each item is the topmost element where it
// is drawn, the table does not scroll to show it, and the menu follows its button when the page
// scrolls.
import type { Locator, Page } from 'playwright-core'
import { test } from 'tap'
import { CONSOLE_ADMIN_TOKEN, launchBrowser, newPage, screenshot, signInWithOidc, startConsoleStack } from '../helpers/console-stack.ts'

async function post (baseUrl: string, path: string, body: unknown): Promise<{ id: string }> {
  const res = await fetch(`${baseUrl}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${CONSOLE_ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body)
  })
  if (res.status !== 201) throw new Error(`${path}: ${res.status} ${await res.text()}`)
  return await res.json() as { id: string }
}

/** No page-wide horizontal scroll: the document is as wide as the viewport. */
async function pageOverflow (page: Page): Promise<number> {
  return await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)
}

/** Whether the element is in the viewport and the topmost element at its centre (nothing clips or covers it). */
async function reachable (el: Locator): Promise<boolean> {
  return await el.evaluate(node => {
    const r = node.getBoundingClientRect()
    const x = r.left + r.width / 2
    const y = r.top + r.height / 2
    if (r.width === 0 || r.left < 0 || r.right > document.documentElement.clientWidth || r.top < 0 || r.bottom > document.documentElement.clientHeight) return false
    const hit = document.elementFromPoint(x, y)
    return hit !== null && node.contains(hit)
  })
}

/** The table's scroll box: where it is scrolled to, and whether it can scroll down. */
async function scrollBox (page: Page): Promise<{ left: number, top: number, scrollsDown: boolean }> {
  return await page.locator('.table-scroll').evaluate(el => ({ left: el.scrollLeft, top: el.scrollTop, scrollsDown: el.scrollHeight > el.clientHeight }))
}

test('wide tables fit the page and their row menus are never clipped', async t => {
  const stack = await startConsoleStack(t)
  // Keys with long names and descriptions, of people and a service account; a few more users.
  const bot = await post(stack.adminUrl, '/api/users', { kind: 'service', name: 'release-bot', groups: ['support'] })
  for (let i = 1; i <= 3; i++) {
    await post(stack.adminUrl, `/api/users/${bot.id}/api-keys`, {
      name: `release pipeline key number ${i}`,
      description: 'Used by the release pipeline to read the tickets and the documentation of every product',
      mcpServerIds: ['docs', 'tickets']
    })
  }
  for (const name of ['Dana Developer', 'Erin Engineer', 'Frank Finance']) {
    const user = await post(stack.adminUrl, '/api/users', { email: `${name.split(' ')[0]?.toLowerCase() ?? ''}@example.com`, name, groups: ['engineering', 'a-rather-long-group-name'] })
    await post(stack.adminUrl, `/api/users/${user.id}/api-keys`, { name: `${name} laptop`, mcpServerIds: ['*'] })
  }
  const browser = await launchBrowser(t)
  const { page, problems } = await newPage(browser, stack.adminUrl, { width: 1024, height: 768 })
  await signInWithOidc(page, 'alice')

  for (const width of [1024, 390]) {
    await page.setViewportSize({ width, height: width === 1024 ? 768 : 844 })
    for (const [hash, label, rowName] of [['#/admin/keys', 'All API Keys', /Frank Finance laptop/], ['#/admin/users', 'Users', /Frank Finance/]] as const) {
      await page.goto(`/${hash}`)
      await page.getByRole('row', { name: rowName }).first().waitFor()
      t.equal(await pageOverflow(page), 0, `${label} at ${width} px: no page-wide horizontal scroll`)
      const buttons = page.locator('td.col-actions button[aria-haspopup="menu"]')
      const count = await buttons.count()
      t.ok(count >= 4, `${label}: ${count} rows`)
      const inView = []
      for (let i = 0; i < count; i++) {
        const button = buttons.nth(i)
        await button.evaluate(el => el.scrollIntoView({ block: 'center', inline: 'nearest' }))
        inView.push(await reachable(button))
      }
      t.same(inView, inView.map(() => true), `${label} at ${width} px: every row's ⋮ is in view and uncovered`)
      t.equal((await scrollBox(page)).left, 0, 'without scrolling the table sideways')

      // The last row's menu: every item is drawn on top, inside the viewport; the table stays put.
      const last = buttons.nth(count - 1)
      await last.evaluate(el => el.scrollIntoView({ block: 'end' }))
      await last.click()
      const menu = page.getByRole('menu')
      await menu.waitFor()
      const items = menu.getByRole('menuitem')
      const drawn = []
      for (let i = 0; i < await items.count(); i++) drawn.push(await reachable(items.nth(i)))
      t.same(drawn, drawn.map(() => true), `${label} at ${width} px: the last row's menu is not clipped (${drawn.length} items)`)
      t.ok(await reachable(menu.getByRole('menuitem', { name: 'Delete' })), 'Delete is visible without scrolling inside the table')
      t.same(await scrollBox(page), { left: 0, top: 0, scrollsDown: false }, 'the table neither scrolls nor grows to show it: its header stays')
      await screenshot(page, `table-menu-${label === 'Users' ? 'users' : 'keys'}-${width}`)
      t.equal((await scrollBox(page)).left, 0, 'focusing its first item did not scroll the table either')
      await page.keyboard.press('Escape')
      await menu.waitFor({ state: 'hidden' })
    }
  }

  // The ⋮ column's edge shadow only while something scrolls under it.
  const edge = async () => await page.locator('.table-scroll').evaluate(el => ({
    overflows: el.hasAttribute('data-overflows'),
    shadow: getComputedStyle(el.querySelector('td.col-actions') as Element).boxShadow !== 'none'
  }))
  await page.setViewportSize({ width: 1024, height: 768 })
  await page.goto('/#/admin/keys')
  await page.getByRole('row', { name: /Frank Finance laptop/ }).waitFor()
  await page.locator('.table-scroll[data-overflows]').waitFor()
  t.same(await edge(), { overflows: true, shadow: true }, 'at 1024 px All API Keys scrolls sideways: the ⋮ column has its edge')
  await page.setViewportSize({ width: 1800, height: 768 })
  await page.locator('.table-scroll:not([data-overflows])').waitFor()
  t.same(await edge(), { overflows: false, shadow: false }, 'at 1800 px it fits: no edge')

  // An open menu follows its button when the page scrolls.
  await page.setViewportSize({ width: 1024, height: 560 })
  await page.goto('/#/admin/keys')
  const first = page.locator('td.col-actions button[aria-haspopup="menu"]').first()
  await first.waitFor()
  await first.click()
  const menu = page.getByRole('menu')
  await menu.waitFor()
  const gap = async () => await page.evaluate(() => {
    const b = document.querySelector('button[aria-expanded="true"]')?.getBoundingClientRect()
    const m = document.querySelector('[role="menu"]:popover-open')?.getBoundingClientRect()
    return b === undefined || m === undefined ? null : m.top - b.bottom
  })
  // 4 px, give or take the rounding of the menu's place to whole pixels.
  const under = (g: number | null) => g !== null && Math.abs(g - 4) <= 1
  const opened = await gap()
  t.ok(under(opened), `the menu opens under its button (${opened ?? 'none'} px)`)
  await page.evaluate(() => new Promise<void>(resolve => {
    window.addEventListener('scroll', () => requestAnimationFrame(() => resolve()), { once: true })
    window.scrollBy(0, 60)
  }))
  const scrolled = await gap()
  t.ok(under(scrolled), `and stays under it when the page scrolls (${scrolled ?? 'none'} px)`)
  t.same(problems, [], 'no page errors or CSP violations')
})
