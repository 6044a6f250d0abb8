// The create-key dialog's tool picker in a real browser: per chosen server, "All tools, prompts
// and resources" or a picker filled from the server's live catalog (only what the user's own
// policies allow), plus typed globs; the new key's row reads "1 server · 3 tools · 1 prompt" and
// its names expand from a button reachable by keyboard; the API holds the scopes picked.
import { test } from 'tap'
import { CONSOLE_ADMIN_TOKEN, launchBrowser, newPage, screenshot, signInWithOidc, startConsoleStack } from '../helpers/console-stack.ts'
import { startCatalogUpstream } from '../helpers/mcp-catalog-upstream.ts'

test('a key with a picked subset of tools and a glob', async t => {
  const upstream = await startCatalogUpstream(t)
  const stack = await startConsoleStack(t, {
    servers: () => [
      {
        id: 'docs',
        name: 'Docs',
        description: 'Search the product documentation',
        url: upstream.mcpUrl,
        // carol (support) may use five of the twelve tools.
        policies: [{ groups: ['support'], tools: ['search_*', 'get_*', 'list_*'] }, { groups: ['engineering'] }]
      },
      { id: 'tickets', name: 'Tickets', description: 'Read and update support tickets', url: upstream.mcpUrl, access: { groups: ['support'] } }
    ]
  })
  const browser = await launchBrowser(t)
  const { page, problems } = await newPage(browser, stack.adminUrl)
  await signInWithOidc(page, 'carol')

  await page.getByRole('button', { name: 'Create API key' }).first().click()
  const dialog = page.getByRole('dialog', { name: 'Create API key' })
  await dialog.getByLabel('Name').fill('Support bot')
  const docsPicker = dialog.getByRole('group', { name: 'What Docs may use' })
  t.ok(await docsPicker.isHidden(), 'no picker before the server is chosen')
  await dialog.getByRole('checkbox', { name: /^Docs/ }).check()
  await docsPicker.waitFor()
  t.ok(await docsPicker.getByRole('radio', { name: 'All tools, prompts and resources' }).isChecked(), 'a chosen server starts with everything')

  await docsPicker.getByRole('radio', { name: /^Only some/ }).check()
  const tools = docsPicker.getByRole('group', { name: 'Tools' })
  await tools.getByRole('checkbox', { name: /^search_issues/ }).waitFor()
  const offered = await tools.locator('.scope-items .scope-name').allTextContents()
  t.same(offered, ['search_issues', 'search_code', 'get_issue', 'get_repo', 'list_commits'], 'the catalog offers only the tools carol\'s policies allow')
  t.match(await tools.getByRole('checkbox', { name: /^get_issue/ }).getAttribute('id'), /^scope-tools-/)
  await tools.getByRole('checkbox', { name: /^search_issues/ }).check()
  await tools.getByRole('checkbox', { name: /^get_issue/ }).check()
  await tools.getByLabel(/^More tools/).fill('list_*')

  const prompts = docsPicker.getByRole('group', { name: 'Prompts' })
  t.ok(await prompts.getByRole('checkbox', { name: /^All prompts/ }).isChecked(), 'prompts start at all')
  t.ok(await prompts.getByRole('checkbox', { name: /^summarize/ }).isHidden(), 'their items fold away while All is on')
  await prompts.getByRole('checkbox', { name: /^All prompts/ }).uncheck()
  await prompts.getByRole('checkbox', { name: /^summarize/ }).check()
  await tools.scrollIntoViewIfNeeded()
  await screenshot(page, 'create-key-tool-picker', { docs: true })
  await dialog.getByRole('button', { name: 'Create API key' }).click()

  const created = page.getByRole('dialog', { name: 'API key created' })
  await created.waitFor()
  await created.getByRole('button', { name: 'Done' }).click()
  await created.waitFor({ state: 'detached' })

  const row = page.getByRole('row', { name: /Support bot/ })
  const disclosure = row.locator('td[data-label="Servers"]').getByRole('button')
  t.equal(await disclosure.textContent(), '1 server · 3 tools · 1 prompt', 'the Servers column counts the tools')
  t.equal(await disclosure.getAttribute('aria-expanded'), 'false')
  t.ok(await row.locator('.server-details').isHidden(), 'the names start folded')

  // Reachable with Tab from the page's Create button, opened and closed from the keyboard.
  await page.getByRole('button', { name: 'Create API key' }).first().focus()
  for (let i = 0; i < 30 && !await disclosure.evaluate(el => el === document.activeElement); i++) await page.keyboard.press('Tab')
  t.ok(await disclosure.evaluate(el => el === document.activeElement), 'Tab reaches the servers button')
  await page.keyboard.press('Enter')
  t.equal(await disclosure.getAttribute('aria-expanded'), 'true', 'Enter expands it')
  const details = row.locator('.server-details')
  t.ok(await details.isVisible())
  t.equal(await details.locator('li .server-name').textContent(), 'Docs')
  t.equal(await details.locator('li .server-rule').textContent(), 'tools: search_issues, get_issue, list_* · prompts: summarize', 'with what the key may use of it')
  t.equal(await disclosure.getAttribute('aria-controls'), await details.getAttribute('id'))
  await screenshot(page, 'api-keys-scoped-key')
  await page.keyboard.press('Space')
  t.equal(await disclosure.getAttribute('aria-expanded'), 'false', 'Space folds it again')
  t.ok(await details.isHidden())

  const res = await fetch(`${stack.adminUrl}/api/admin-api-keys`, { headers: { authorization: `Bearer ${CONSOLE_ADMIN_TOKEN}` } })
  const key = (await res.json() as { items: Array<{ name: string, mcpServerIds: string[], scopes?: unknown }> }).items.find(k => k.name === 'Support bot')
  t.same(key?.mcpServerIds, ['docs'])
  t.same(key?.scopes, { docs: { tools: ['search_issues', 'get_issue', 'list_*'], prompts: ['summarize'] } }, 'the API holds the picked tools, the glob and the prompt')
  t.equal(upstream.methods.filter(m => m === 'initialize').length, 1, 'the catalog was listed once')
  t.same(problems, [], 'no page errors or CSP violations')
})
