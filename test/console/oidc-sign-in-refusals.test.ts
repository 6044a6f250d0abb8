// The OIDC sign-in's refusals, in a real browser against oidc-provider: the user cancelling at the
// IdP, a redirect back that no sign-in here started (a forged or replayed callback), and a
// discovery document naming another issuer. Each ends on the sign-in screen with the reason, with
// no session and no code left in the address bar.
import { test } from 'tap'
import { launchBrowser, newPage, startConsoleStack } from '../helpers/console-stack.ts'

const signInHeading = { name: 'Sign in to the console' }

test('sign-in refusals end on the sign-in screen with the reason', async t => {
  const stack = await startConsoleStack(t)
  const browser = await launchBrowser(t)

  await t.test('cancelled at the IdP', async t => {
    const { page, problems } = await newPage(browser, stack.adminUrl)
    await page.goto('/')
    await page.getByRole('button', { name: 'Sign in with single sign-on' }).click()
    await page.getByRole('link', { name: '[ Cancel ]' }).click()
    await page.getByRole('heading', signInHeading).waitFor()
    t.match(await page.getByRole('alert').textContent(), /identity provider refused the sign-in: End-User aborted interaction/)
    t.equal(new URL(page.url()).search, '', 'nothing of the answer stays in the address bar')
    t.equal(await page.evaluate(() => sessionStorage.length), 0, 'no session, no pending sign-in')
    t.same(problems, [])
  })

  await t.test('a callback no sign-in here started', async t => {
    const { page, problems } = await newPage(browser, stack.adminUrl)
    const toIdp: string[] = []
    page.on('request', r => { if (r.url().startsWith(stack.idp.issuer)) toIdp.push(r.url()) })
    await page.goto('/?code=stolen-code&state=forged-state')
    await page.getByRole('heading', signInHeading).waitFor()
    t.match(await page.getByRole('alert').textContent(), /does not match a sign-in started here/)
    t.same(toIdp, [], 'the code is never sent to the token endpoint')
    t.equal(new URL(page.url()).search, '', 'the code left the address bar')
    t.same(problems, [])
  })

  await t.test('a discovery document naming another issuer', async t => {
    const { page, problems } = await newPage(browser, stack.adminUrl)
    await page.route(`${stack.idp.issuer}/.well-known/openid-configuration`, async route => {
      const response = await route.fetch()
      const doc = await response.json() as Record<string, unknown>
      await route.fulfill({ response, json: { ...doc, issuer: 'https://evil.example.com' } })
    })
    await page.goto('/')
    await page.getByRole('button', { name: 'Sign in with single sign-on' }).click()
    await page.getByRole('alert').filter({ hasText: /not accepted/ }).waitFor()
    t.match(await page.getByRole('alert').textContent(), /"issuer" property does not match/, 'the reason')
    t.equal(new URL(page.url()).origin, stack.adminUrl, 'the browser never left for that IdP')
    t.same(problems, [])
  })
})
