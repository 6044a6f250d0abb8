// A user who consents again to the same client for the same endpoint (the client lost its tokens:
// reinstalled, signed out) gets a new grant that replaces the old one: the old grant's access and
// refresh tokens are refused, and reconnecting never piles grants up to admin.maxKeysPerUser.
// A grant of the same client for another endpoint, or of another client, is left alone.
import t, { type Test } from 'tap'
import { auth } from '@modelcontextprotocol/sdk/client/auth.js'
import { consentAs, CookieBrowser, startOAuthStack, TestOAuthClient, type OAuthStack } from '../helpers/oauth-stack.ts'
import { mcpStatus } from '../helpers/oauth-tokens.ts'

async function connect (t: Test, stack: OAuthStack, client: TestOAuthClient, userToken: string, serverId: string, replaces = 0): Promise<string> {
  client.saved = undefined
  const endpoint = stack.mcpUrl(serverId)
  t.equal(await auth(client, { serverUrl: endpoint }), 'REDIRECT', `${serverId}: sent to sign in`)
  const { callback, keyId, details } = await consentAs(stack, new CookieBrowser(), client.authorizationUrl as URL, userToken, { mcpServerIds: [serverId] })
  t.equal(details.replaces, replaces, `${serverId}: the consent page says it replaces ${replaces} grant(s)`)
  t.equal(await auth(client, { serverUrl: endpoint, authorizationCode: callback.searchParams.get('code') as string }), 'AUTHORIZED', `${serverId}: authorized`)
  return keyId
}

async function refreshStatus (stack: OAuthStack, client: TestOAuthClient, refreshToken: string): Promise<number> {
  const res = await fetch(`${stack.adminUrl}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: String(client.client?.client_id) })
  })
  await res.arrayBuffer()
  return res.status
}

t.test('consenting again to the same client for the same endpoint replaces the grant', async t => {
  // Two keys a user: at the limit once two grants exist.
  const stack = await startOAuthStack(t, { admin: { maxKeysPerUser: 2 } })
  const alice = await stack.idp.sign({ email: 'alice@example.com', name: 'Alice' })
  const client = new TestOAuthClient({ name: 'Reconnecting' })

  const first = await connect(t, stack, client, alice, 'alpha')
  const firstTokens = client.saved
  const beta = await connect(t, stack, client, alice, 'beta')
  const betaTokens = client.saved
  t.equal(await mcpStatus(stack, firstTokens?.access_token as string, 'alpha'), 200, 'the first grant works')

  // At the key limit now: a third grant could only be made by replacing one.
  const second = await connect(t, stack, client, alice, 'alpha', 1)
  t.not(second, first, 'a new grant')
  t.equal(await stack.store.getKey(first), null, 'the grant it replaces is gone')
  t.not(await stack.store.getKey(beta), null, 'the same client\'s grant for another endpoint stays')
  t.equal(await mcpStatus(stack, firstTokens?.access_token as string, 'alpha'), 401, 'the old grant\'s access token is refused')
  t.equal(await refreshStatus(stack, client, firstTokens?.refresh_token as string), 400, 'and its refresh token')
  t.equal(await mcpStatus(stack, client.saved?.access_token as string, 'alpha'), 200, 'the new grant works')
  t.equal(await mcpStatus(stack, betaTokens?.access_token as string, 'beta'), 200, 'and so does the beta grant')

  const other = new TestOAuthClient({ name: 'Another app' })
  const keys = await fetch(`${stack.adminUrl}/api/api-keys`, { headers: { authorization: `Bearer ${alice}` } })
  t.equal((await keys.json() as { items: unknown[] }).items.length, 2, 'two grants listed, not three')
  // Another client for alpha is a new grant: at the limit, refused as a third key would be.
  other.saved = undefined
  t.equal(await auth(other, { serverUrl: stack.mcpUrl('alpha') }), 'REDIRECT')
  await t.rejects(consentAs(stack, new CookieBrowser(), other.authorizationUrl as URL, alice, { mcpServerIds: ['alpha'] }), /consent: 409/, 'another client replaces nothing: the key limit holds')
  t.not(await stack.store.getKey(second), null, 'and the grants stay')
})
