// Signing out of an OIDC session ends it at the identity provider too when its discovery document
// offers an end_session_endpoint (OpenID Connect RP-Initiated Logout 1.0: id_token_hint, client_id
// and post_logout_redirect_uri back to the console), so "Sign in with single sign-on" asks for the
// password again; an IdP without one: the console just forgets the session.
import { test } from 'tap'
import { CONSOLE_CLIENT_ID, launchBrowser, newPage, signInWithOidc, startConsoleStack } from '../helpers/console-stack.ts'

const signInHeading = { name: 'Sign in to the console' }

test('sign-out ends the session at the IdP and comes back to the console', async t => {
  const stack = await startConsoleStack(t)
  // The console's URL is also its post-logout redirect URI, registered at the IdP like its redirect URI.
  stack.idp.addClient({
    client_id: CONSOLE_CLIENT_ID,
    application_type: 'web',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [`${stack.adminUrl}/`],
    post_logout_redirect_uris: [`${stack.adminUrl}/`]
  })
  const browser = await launchBrowser(t)
  const { page, problems } = await newPage(browser, stack.adminUrl)
  await signInWithOidc(page, 'bob')
  const idToken = await page.evaluate(() => (JSON.parse(sessionStorage.getItem('mcpgate.session') ?? '{}') as { idToken?: string }).idToken)
  t.type(idToken, 'string', 'the session keeps the ID token for the sign-out')

  const endSession = page.waitForRequest(r => r.url().startsWith(`${stack.idp.issuer}/session/end`))
  await page.getByRole('button', { name: /^Account menu for / }).click()
  await page.getByRole('menuitem', { name: 'Sign out' }).click()
  const request = new URL((await endSession).url())
  t.equal(request.searchParams.get('id_token_hint'), idToken, 'the IdP is told whose session ends')
  t.equal(request.searchParams.get('client_id'), CONSOLE_CLIENT_ID)
  t.equal(request.searchParams.get('post_logout_redirect_uri'), `${stack.adminUrl}/`, 'and where to send the browser back')

  // oidc-provider asks before it ends its session.
  await page.getByRole('button', { name: 'Yes, sign me out' }).click()
  await page.getByRole('heading', signInHeading).waitFor()
  t.equal(new URL(page.url()).origin, stack.adminUrl, 'back in the console')
  t.equal(await page.evaluate(() => sessionStorage.length), 0, 'no session left in the tab')

  await page.getByRole('button', { name: 'Sign in with single sign-on' }).click()
  await page.locator('input[name="login"]').waitFor()
  t.pass('the IdP asks for the password again: its session ended too')
  t.same(problems, [], 'no page errors or CSP violations')
})

test('an IdP without end_session_endpoint: sign-out forgets the session here only', async t => {
  const stack = await startConsoleStack(t)
  const browser = await launchBrowser(t)
  const { page, problems } = await newPage(browser, stack.adminUrl)
  // The same IdP, its discovery document without the endpoint (as Google's has none).
  await page.route(`${stack.idp.issuer}/.well-known/openid-configuration`, async route => {
    const response = await route.fetch()
    const doc = await response.json() as Record<string, unknown>
    t.type(doc.end_session_endpoint, 'string', 'oidc-provider offers one')
    delete doc.end_session_endpoint
    await route.fulfill({ response, json: doc })
  })
  await signInWithOidc(page, 'bob')

  const toIdp: string[] = []
  page.on('request', r => { if (r.url().startsWith(stack.idp.issuer)) toIdp.push(r.url()) })
  await page.getByRole('button', { name: /^Account menu for / }).click()
  await page.getByRole('menuitem', { name: 'Sign out' }).click()
  await page.getByRole('heading', signInHeading).waitFor()
  t.same(toIdp, [], 'nothing asked of the IdP')
  t.equal(await page.evaluate(() => sessionStorage.length), 0, 'the session is cleared')

  await page.getByRole('button', { name: 'Sign in with single sign-on' }).click()
  await page.getByRole('button', { name: /^Account menu for / }).waitFor()
  t.pass('the IdP\'s own session lives on: single sign-on signs straight back in')
  t.same(problems, [], 'no page errors or CSP violations')
})
