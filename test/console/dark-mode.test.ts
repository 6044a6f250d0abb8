// Dark mode follows the system's preference (prefers-color-scheme), in a real browser (issue 28):
// the console's pages, a dialog and an open menu turn dark, and every text on them keeps a
// contrast of at least 4.5:1 (WCAG 1.4.3) against what it is drawn on — in the light palette too.
import type { Page } from 'playwright-core'
import { test } from 'tap'
import { CONSOLE_ADMIN_TOKEN, launchBrowser, newPage, screenshot, signInWithOidc, startConsoleStack } from '../helpers/console-stack.ts'

interface LowContrast { text: string, ratio: number, color: string, background: string }

/**
 * Every visible text on the page whose contrast against its background (the nearest opaque one
 * up the tree, composited) is under 4.5:1. Disabled controls are exempt (WCAG), as are hidden texts.
 */
// A string, evaluated as the page's own script: tsx names the functions it compiles (__name),
// which the page does not have.
const LOW_CONTRAST = `(() => {
  const parse = c => {
    const m = /rgba?\\(([\\d.]+),? ([\\d.]+),? ([\\d.]+)(?:,? \\/? ?([\\d.]+))?\\)/.exec(c)
    return m === null ? [0, 0, 0, 0] : [Number(m[1]), Number(m[2]), Number(m[3]), m[4] === undefined ? 1 : Number(m[4])]
  }
  const over = (top, under) => [0, 1, 2].map(i => top[i] * top[3] + under[i] * (1 - top[3]))
  const background = el => {
    const layers = []
    for (let e = el; e !== null; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor)
      if (c[3] > 0) layers.push(c)
      if (c[3] === 1) break
    }
    let rgb = parse(getComputedStyle(document.documentElement).backgroundColor).slice(0, 3)
    for (const l of layers.reverse()) rgb = over(l, rgb)
    return rgb
  }
  const luminance = rgb => {
    const [r, g, b] = rgb.map(v => { const s = v / 255; return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4 })
    return 0.2126 * r + 0.7152 * g + 0.0722 * b
  }
  const modal = document.querySelector('dialog[open]')
  const out = []
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT)
  for (let n = walker.nextNode(); n !== null; n = walker.nextNode()) {
    const text = (n.textContent ?? '').trim()
    const el = n.parentElement
    if (text === '' || el === null || el.closest('svg, .visually-hidden, [hidden], :disabled') !== null) continue
    if (modal !== null && !modal.contains(el)) continue
    const r = el.getBoundingClientRect()
    if (r.width === 0 || r.height === 0 || !el.checkVisibility({ opacityProperty: true, visibilityProperty: true })) continue
    const bg = background(el)
    const fg = over(parse(getComputedStyle(el).color), bg)
    const [a, b] = [luminance(fg), luminance(bg)]
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)
    if (ratio < 4.5) out.push({ text: text.slice(0, 40), ratio: Math.round(ratio * 100) / 100, color: getComputedStyle(el).color, background: 'rgb(' + bg.map(Math.round).join(', ') + ')' })
  }
  return out
})()`

/**
 * Every visible text on the page (in the open dialog only, when there is one) whose contrast
 * against its background — the backgrounds up the tree, composited — is under 4.5:1. Disabled
 * controls are exempt (WCAG), as are hidden texts and the chart (its own test).
 */
async function lowContrast (page: Page): Promise<LowContrast[]> {
  return await page.evaluate(LOW_CONTRAST) as LowContrast[]
}

async function pageBackground (page: Page): Promise<{ background: string, scheme: string }> {
  return await page.evaluate(() => ({ background: getComputedStyle(document.documentElement).backgroundColor, scheme: getComputedStyle(document.documentElement).colorScheme }))
}

test('dark mode follows the system and keeps every text readable', async t => {
  const stack = await startConsoleStack(t)
  const bot = await fetch(`${stack.adminUrl}/api/users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${CONSOLE_ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'service', name: 'release-bot', groups: ['support'] })
  }).then(async res => await res.json() as { id: string })
  await fetch(`${stack.adminUrl}/api/users/${bot.id}/api-keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${CONSOLE_ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'pipeline', description: 'Reads tickets', mcpServerIds: ['docs', 'tickets'], expiresAt: new Date(Date.now() - 1000 + 86_400_000).toISOString() })
  })
  const browser = await launchBrowser(t)
  const { page, problems } = await newPage(browser, stack.adminUrl, { width: 1024, height: 800 })
  await signInWithOidc(page, 'alice')

  // The check itself: a grey on white is found.
  await page.evaluate(() => {
    const probe = document.createElement('p')
    probe.id = 'contrast-probe'
    probe.textContent = 'grey on white'
    probe.style.color = '#aaaaaa'
    probe.style.background = '#ffffff'
    document.body.append(probe)
  })
  t.match(await lowContrast(page), [{ text: 'grey on white', ratio: 2.32 }], 'the check finds a low contrast')
  await page.evaluate(() => document.getElementById('contrast-probe')?.remove())

  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme })
    const bg = await pageBackground(page)
    t.equal(bg.scheme, scheme, `${scheme}: the page's color-scheme`)
    t.equal(bg.background, scheme === 'dark' ? 'rgb(14, 19, 26)' : 'rgb(245, 247, 250)', `${scheme}: its background`)
    const views: Array<[string, () => Promise<void>]> = [
      ['API Keys', async () => { await page.goto('/#/keys'); await page.getByRole('heading', { name: 'No API keys yet' }).waitFor() }],
      ['All API Keys', async () => { await page.goto('/#/admin/keys'); await page.getByRole('row', { name: /pipeline/ }).waitFor() }],
      ['Users', async () => { await page.goto('/#/admin/users'); await page.getByRole('row', { name: /release-bot/ }).waitFor() }],
      ['an open menu', async () => { await page.getByRole('button', { name: 'Actions for service account release-bot' }).click(); await page.getByRole('menu').waitFor() }],
      ['the key detail', async () => { await page.goto('/#/admin/keys'); await page.getByRole('link', { name: 'pipeline' }).click(); await page.getByRole('region', { name: 'Usage, last 30 days' }).locator('figure').waitFor() }],
      ['Audit', async () => { await page.goto('/#/admin/audit'); await page.getByRole('heading', { name: 'Audit' }).waitFor(); await page.locator('.filters').waitFor() }],
      ['the create dialog', async () => { await page.goto('/#/keys'); await page.getByRole('button', { name: 'Create API key' }).first().click(); await page.getByRole('dialog').getByLabel('Name').fill('x'); await page.getByRole('dialog').getByRole('button', { name: 'Create API key' }).click(); await page.getByRole('dialog').locator('#key-servers-error').waitFor() }],
      ['a new key, shown once', async () => { await page.getByRole('dialog').getByRole('checkbox', { name: /^Docs/ }).check(); await page.getByRole('dialog').getByRole('button', { name: 'Create API key' }).click(); await page.getByRole('dialog', { name: 'API key created' }).waitFor() }]
    ]
    for (const [name, show] of views) {
      await show()
      t.same(await lowContrast(page), [], `${scheme}, ${name}: every text at 4.5:1 or more`)
    }
    await screenshot(page, `dark-mode-${scheme}`)
    await page.getByRole('dialog', { name: 'API key created' }).getByRole('button', { name: 'Done' }).click()
    await page.getByRole('dialog').waitFor({ state: 'detached' })
    // The next round's "No API keys yet" needs the key gone.
    await page.getByRole('button', { name: 'Actions for API key x' }).click()
    await page.getByRole('menuitem', { name: 'Delete' }).click()
    await page.getByRole('dialog').getByRole('button', { name: 'Delete API key' }).click()
    await page.getByRole('heading', { name: 'No API keys yet' }).waitFor()
  }
  t.same(problems, [], 'no page errors or CSP violations')
})
