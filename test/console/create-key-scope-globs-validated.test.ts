// Typed names and globs in the create-key picker are checked in the browser by the API's own rule
// (core/tool-scope.ts): a bad one is shown at its input and nothing is sent. A server whose
// catalog cannot be listed says so in the picker, and globs can still be typed for it.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'tap'
import { CONSOLE_ADMIN_TOKEN, launchBrowser, newPage, signInWithOidc, startConsoleStack } from '../helpers/console-stack.ts'

test('globs checked before sending; an unlisted server takes typed globs', async t => {
  // An upstream that is down: it answers every request 503.
  const down = createServer((_req, res) => { res.writeHead(503).end() })
  await new Promise<void>(resolve => down.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => { down.closeAllConnections(); down.close(() => resolve()) }))
  const port = (down.address() as AddressInfo).port
  const stack = await startConsoleStack(t, {
    servers: upstream => [
      { id: 'docs', name: 'Docs', url: upstream },
      { id: 'broken', name: 'Broken', description: 'Its upstream is down', url: `http://127.0.0.1:${port}/mcp` }
    ]
  })
  const browser = await launchBrowser(t)
  const { page, problems } = await newPage(browser, stack.adminUrl)
  const posts: string[] = []
  page.on('request', r => { if (r.method() === 'POST' && r.url().endsWith('/api/api-keys')) posts.push(r.url()) })
  await signInWithOidc(page, 'carol')

  await page.getByRole('button', { name: 'Create API key' }).first().click()
  const dialog = page.getByRole('dialog', { name: 'Create API key' })
  await dialog.getByLabel('Name').fill('Globbed')
  await dialog.getByRole('checkbox', { name: /^Broken/ }).check()
  const picker = dialog.getByRole('group', { name: 'What Broken may use' })
  await picker.getByRole('radio', { name: /^Only some/ }).check()
  await picker.getByRole('status').filter({ hasText: /could not be listed/ }).waitFor()
  t.equal(await picker.getByRole('status').textContent(), 'Broken could not be listed right now. You can still type names or globs below.', 'the picker says the catalog is unavailable')

  const globs = picker.getByRole('group', { name: 'Tools' }).getByLabel(/^More tools/)
  await globs.fill('search_*, get_**')
  await dialog.getByRole('button', { name: 'Create API key' }).click()
  const error = picker.locator(`#${await globs.getAttribute('id') ?? ''}-error`)
  await error.waitFor()
  t.equal(await error.textContent(), '“get_**” uses "**": "*" already matches any characters, "/" included', 'the problem, at the input')
  t.equal(await globs.getAttribute('aria-invalid'), 'true')
  t.match(await globs.getAttribute('aria-describedby'), /-error/, 'tied to the input')
  t.ok(await globs.evaluate(el => el === document.activeElement), 'the focus moves to it')
  t.same(posts, [], 'nothing was sent')

  await globs.fill('search_*, get_issue')
  await dialog.getByRole('button', { name: 'Create API key' }).click()
  const created = page.getByRole('dialog', { name: 'API key created' })
  await created.waitFor()
  await created.getByRole('button', { name: 'Done' }).click()
  t.equal(await page.getByRole('row', { name: /Globbed/ }).locator('td[data-label="Servers"] button').textContent(), '1 server · 2 tools')

  const res = await fetch(`${stack.adminUrl}/api/admin-api-keys`, { headers: { authorization: `Bearer ${CONSOLE_ADMIN_TOKEN}` } })
  const key = (await res.json() as { items: Array<{ name: string, scopes?: unknown }> }).items.find(k => k.name === 'Globbed')
  t.same(key?.scopes, { broken: { tools: ['search_*', 'get_issue'] } }, 'the typed globs are the key\'s scopes')
  t.same(problems, [], 'no page errors or CSP violations')
})
