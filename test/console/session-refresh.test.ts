// An OIDC session outlives its ID token: when the token is (about to be) expired, the console
// renews it with the refresh token instead of sending the user back to sign-in.
import { test } from 'tap'
import type { Page } from 'playwright-core'
import { launchBrowser, newPage, signInWithOidc, startConsoleStack } from '../helpers/console-stack.ts'

interface StoredSession { token: string, expiresAt: number, refreshToken?: string }

async function storedSession (page: Page): Promise<StoredSession> {
  return await page.evaluate(() => JSON.parse(sessionStorage.getItem('mcpgate.session') ?? '{}') as StoredSession)
}

test('an expired ID token is renewed with the refresh token', async t => {
  const stack = await startConsoleStack(t)
  const browser = await launchBrowser(t)
  const { page, problems } = await newPage(browser, stack.adminUrl)
  await signInWithOidc(page, 'bob')
  const before = await storedSession(page)
  t.type(before.refreshToken, 'string', 'the IdP issued a refresh token, kept in sessionStorage')

  // The page's clock jumps past the ID token's expiry (the IdP and the API keep real time).
  await page.clock.setFixedTime(before.expiresAt + 60_000)
  await page.reload()
  await page.getByRole('heading', { name: 'No API keys yet' }).waitFor()
  t.equal(await page.getByRole('heading', { name: 'Sign in to the console' }).count(), 0, 'the user stays signed in')
  const after = await storedSession(page)
  // The IdP rotates refresh tokens of public clients on every use: a new one proves the renewal.
  t.not(after.refreshToken, before.refreshToken, 'the console renewed the session at the token endpoint')
  t.ok(after.expiresAt >= before.expiresAt, 'with a token that expires no sooner')

  // A refresh token the IdP refuses, and a token the API refuses: back to sign-in, with the reason.
  await page.evaluate(() => {
    const s = JSON.parse(sessionStorage.getItem('mcpgate.session') ?? '{}') as { token: string, refreshToken?: string }
    s.refreshToken = 'revoked-refresh-token'
    s.token = 'eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjF9.c2ln'
    sessionStorage.setItem('mcpgate.session', JSON.stringify(s))
  })
  await page.reload()
  await page.getByRole('heading', { name: 'Sign in to the console' }).waitFor()
  t.match(await page.getByRole('alert').textContent(), /session has expired/, 'the sign-in screen says why')
  t.equal(await page.evaluate(() => sessionStorage.getItem('mcpgate.session')), null, 'the dead session is cleared')
  t.same(problems, [], 'no page errors or CSP violations')
})
