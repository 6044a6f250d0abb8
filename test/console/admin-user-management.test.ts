// User Management in a real browser: an admin sees every key with its user, filters by user and
// deletes another user's key, and manages users (disable, delete with their keys); a non-admin
// never sees these entries, is told "Not allowed" at their addresses and gets 403 from the admin
// routes.
import { test } from 'tap'
import type { Page } from 'playwright-core'
import { CONSOLE_ADMIN_TOKEN, launchBrowser, newPage, screenshot, signInWithOidc, startConsoleStack } from '../helpers/console-stack.ts'

/** The signed-in tab's bearer token (sessionStorage), to call the API as that user. */
async function tokenOf (page: Page): Promise<string> {
  return await page.evaluate(() => (JSON.parse(sessionStorage.getItem('mcpgate.session') ?? '{}') as { token: string }).token)
}

async function api (baseUrl: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number, body: unknown }> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  const text = await res.text()
  return { status: res.status, body: text === '' ? null : JSON.parse(text) }
}

test('admins manage every key and user; non-admins never see User Management', async t => {
  const stack = await startConsoleStack(t)
  const browser = await launchBrowser(t)

  // bob: a regular user with one key, created in the console.
  const bob = await newPage(browser, stack.adminUrl)
  await signInWithOidc(bob.page, 'bob')
  await bob.page.getByRole('button', { name: 'Create API key' }).first().click()
  const dialog = bob.page.getByRole('dialog', { name: 'Create API key' })
  await dialog.getByLabel('Name').fill('Bob CI')
  await dialog.getByRole('checkbox', { name: /^Docs/ }).check()
  await dialog.getByRole('button', { name: 'Create API key' }).click()
  await bob.page.getByRole('dialog', { name: 'API key created' }).getByRole('button', { name: 'Done' }).click()
  await bob.page.getByRole('row', { name: /Bob CI/ }).waitFor()

  t.equal(await bob.page.getByRole('heading', { name: 'User Management' }).count(), 0, 'a non-admin sees no User Management section')
  t.equal(await bob.page.getByRole('link', { name: 'All API Keys' }).count(), 0, 'nor the all-keys page')
  t.equal(await bob.page.getByRole('link', { name: 'Users' }).count(), 0, 'nor the users page')
  for (const hash of ['#/admin/users', '#/admin/keys', '#/admin/audit', '#/admin/keys/key?id=AAAAAAAAAAAAAAAA']) {
    await bob.page.goto(`/${hash}`)
    await bob.page.getByRole('heading', { level: 1, name: 'Not allowed' }).waitFor()
    t.equal(await bob.page.getByRole('alert').textContent(), 'This page is for mcpgate administrators, and Bob Builder is not one.If you need it, ask an administrator to give your account the admin role.', `${hash}: a non-admin is told, where they asked`)
    t.equal(new URL(bob.page.url()).hash, hash, 'the address stays')
  }
  t.equal(await bob.page.title(), 'Not allowed · mcpgate')
  await screenshot(bob.page, 'not-allowed')
  await bob.page.getByRole('link', { name: 'Go to My API Keys' }).click()
  await bob.page.getByRole('heading', { name: 'API Keys', exact: true }).waitFor()
  t.equal(await bob.page.evaluate(() => document.activeElement?.id), 'page-title', 'from there, on to the own keys')
  const bobToken = await tokenOf(bob.page)
  for (const [method, path] of [['GET', '/api/admin-api-keys'], ['GET', '/api/users'], ['DELETE', '/api/admin-api-keys/AAAAAAAAAAAAAAAA'], ['DELETE', '/api/users/AAAAAAAAAAAA']]) {
    const res = await api(stack.adminUrl, bobToken, method as string, path as string)
    t.equal(res.status, 403, `${method} ${path} answers 403 to a non-admin`)
  }

  // carol: one key, made through the API with her console session.
  const carol = await newPage(browser, stack.adminUrl)
  await signInWithOidc(carol.page, 'carol')
  const carolKey = await api(stack.adminUrl, await tokenOf(carol.page), 'POST', '/api/api-keys', { name: 'Carol tickets', mcpServerIds: ['tickets'] })
  t.equal(carolKey.status, 201)

  // alice: admin through the IdP's admin group.
  const alice = await newPage(browser, stack.adminUrl)
  await signInWithOidc(alice.page, 'alice')
  const nav = alice.page.getByRole('navigation', { name: 'Main' })
  await nav.getByRole('heading', { name: 'User Management' }).waitFor()
  await nav.getByRole('link', { name: 'All API Keys' }).click()
  await alice.page.getByRole('heading', { name: 'All API Keys' }).waitFor()
  const bobRow = alice.page.getByRole('row', { name: /Bob CI/ })
  await bobRow.waitFor()
  t.match(await bobRow.locator('td[data-label="User"]').textContent(), /Bob Builder\s*bob@example\.com/, 'the User column names the owner with name and email')
  t.match(await alice.page.getByRole('row', { name: /Carol tickets/ }).locator('td[data-label="User"]').textContent(), /Carol Support/)
  await screenshot(alice.page, 'admin-all-keys')

  await alice.page.getByLabel('Filter by user').selectOption({ label: 'Bob Builder (bob@example.com)' })
  await alice.page.getByRole('row', { name: /Carol tickets/ }).waitFor({ state: 'detached' })
  // The table is re-rendered from the filtered page: wait for the new rows, not just the old ones to go.
  await alice.page.getByRole('row', { name: /Bob CI/ }).waitFor()
  t.equal(await alice.page.getByRole('row', { name: /Bob CI/ }).count(), 1, 'filtering by user shows that user\'s keys only')

  await alice.page.getByRole('button', { name: 'Actions for API key Bob CI' }).click()
  await alice.page.getByRole('menuitem', { name: 'Delete' }).click()
  const confirm = alice.page.getByRole('dialog', { name: 'Delete API key' })
  t.match(await confirm.textContent(), /“Bob CI” of Bob Builder \(bob@example\.com\)/, 'the confirmation names the key and its owner')
  await confirm.getByRole('button', { name: 'Delete API key' }).click()
  await alice.page.getByRole('heading', { name: 'No API keys' }).waitFor()
  const bobKeys = await api(stack.adminUrl, CONSOLE_ADMIN_TOKEN, 'GET', '/api/admin-api-keys')
  t.same((bobKeys.body as { items: Array<{ name: string }> }).items.map(k => k.name), ['Carol tickets'], 'the admin deleted another user\'s key')

  // Users: disable bob, delete carol (and her key).
  await nav.getByRole('link', { name: 'Users' }).click()
  await alice.page.getByRole('heading', { name: 'Users' }).waitFor()
  const names = await alice.page.locator('td[data-label="Name"]').allTextContents()
  t.same(names, ['Alice AdminYou', 'Bob Builder', 'Carol Support'], 'every user is listed, sorted by name')
  t.match(await alice.page.getByRole('row', { name: /Alice Admin/ }).locator('td[data-label="Role"]').textContent(), 'Admin')
  t.match(await alice.page.getByRole('row', { name: /Carol Support/ }).locator('td[data-label="Groups"]').textContent(), 'support')

  await alice.page.getByRole('button', { name: 'Actions for user Bob Builder (bob@example.com)' }).click()
  await alice.page.getByRole('menuitem', { name: 'Disable' }).click()
  await alice.page.getByRole('dialog', { name: 'Disable user' }).getByRole('button', { name: 'Disable user' }).click()
  await alice.page.getByRole('row', { name: /Bob Builder/ }).locator('td[data-label="Status"]').getByText('Disabled').waitFor()
  await screenshot(alice.page, 'admin-users')
  await bob.page.reload()
  await bob.page.getByRole('alert').filter({ hasText: 'Your account is disabled. Ask an administrator to enable it.' }).waitFor()
  t.ok(await bob.page.getByRole('heading', { name: 'Sign in to the console' }).isVisible(), 'a disabled user is sent back to sign-in with the reason')

  await alice.page.getByRole('button', { name: 'Actions for user Carol Support (carol@example.com)' }).click()
  await alice.page.getByRole('menuitem', { name: 'Delete' }).click()
  const deleteUser = alice.page.getByRole('dialog', { name: 'Delete user' })
  t.match(await deleteUser.textContent(), /Their 1 API key is deleted too/, 'the confirmation says the user\'s keys go too')
  await screenshot(alice.page, 'admin-delete-user-confirm')
  await deleteUser.getByRole('button', { name: 'Delete user' }).click()
  await alice.page.getByRole('row', { name: /Carol Support/ }).waitFor({ state: 'detached' })
  const left = await api(stack.adminUrl, CONSOLE_ADMIN_TOKEN, 'GET', '/api/admin-api-keys')
  t.same((left.body as { items: unknown[] }).items, [], 'the deleted user\'s key went with them')

  t.same([...bob.problems, ...carol.problems, ...alice.problems], [], 'no page errors or CSP violations')
})
