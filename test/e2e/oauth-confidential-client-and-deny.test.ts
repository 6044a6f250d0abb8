// Two more ways an authorization goes: a confidential client (registered with a client secret,
// as Microsoft 365 Copilot registers) completes the flow with client_secret_post; and a user who
// denies sends the client access_denied, with no grant made.
import t from 'tap'
import { auth } from '@modelcontextprotocol/sdk/client/auth.js'
import { consentAs, CookieBrowser, startOAuthStack, TestOAuthClient } from '../helpers/oauth-stack.ts'

t.test('a client registered with a secret (client_secret_post)', async t => {
  const stack = await startOAuthStack(t)
  const endpoint = stack.mcpUrl('alpha')
  const client = new TestOAuthClient({ name: 'Copilot-like', authMethod: 'client_secret_post' })
  t.equal(await auth(client, { serverUrl: endpoint }), 'REDIRECT')
  t.ok(typeof client.client?.client_secret === 'string' && client.client.client_secret.length >= 32, 'DCR issued a client secret')
  const alice = await stack.idp.sign({ email: 'alice@example.com', name: 'Alice' })
  const { callback } = await consentAs(stack, new CookieBrowser(), client.authorizationUrl as URL, alice, { mcpServerIds: ['alpha'] })
  t.equal(await auth(client, { serverUrl: endpoint, authorizationCode: callback.searchParams.get('code') as string }), 'AUTHORIZED', 'the code exchanged with the secret (and PKCE)')
  const res = await fetch(endpoint, { method: 'POST', headers: { authorization: `Bearer ${client.saved?.access_token as string}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'c', version: '1' } } }) })
  t.equal(res.status, 200, 'its token works')
  await res.arrayBuffer()
})

t.test('the user denies: access_denied to the client, no grant', async t => {
  const stack = await startOAuthStack(t)
  const endpoint = stack.mcpUrl('alpha')
  const client = new TestOAuthClient({ name: 'Unwanted' })
  t.equal(await auth(client, { serverUrl: endpoint }), 'REDIRECT')
  const alice = await stack.idp.sign({ email: 'alice@example.com', name: 'Alice' })
  const browser = new CookieBrowser()
  const landed = await browser.follow(client.authorizationUrl as URL, stack.adminUrl)
  const uid = /#\/oauth\/consent\?uid=([^&]+)$/.exec(landed.url.href)?.[1] as string
  t.ok(uid, 'on the consent page')
  const stranger = new CookieBrowser()
  const elsewhere = await stranger.fetch(`${stack.adminUrl}/oauth/interaction/${uid}/consent`, { method: 'POST', bearer: alice, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ mcpServerIds: ['alpha'] }) })
  t.equal(elsewhere.status, 404, 'another browser (without the interaction cookie) cannot consent to it')
  t.equal((await elsewhere.json() as { code: string }).code, 'MCPGATE_OAUTH_INTERACTION_NOT_FOUND')
  const anonymous = await browser.fetch(`${stack.adminUrl}/oauth/interaction/${uid}/details`)
  t.equal(anonymous.status, 401, 'nor can anyone who is not signed in read it')
  await anonymous.arrayBuffer()

  const deny = await browser.fetch(`${stack.adminUrl}/oauth/interaction/${uid}/deny`, { method: 'POST', bearer: alice })
  t.equal(deny.status, 200)
  const { redirectTo } = await deny.json() as { redirectTo: string }
  const back = await browser.follow(redirectTo, stack.adminUrl)
  t.equal(`${back.url.origin}${back.url.pathname}`, client.redirectUrl, 'sent back to the client')
  t.equal(back.url.searchParams.get('error'), 'access_denied', 'with access_denied')
  t.equal(back.url.searchParams.get('iss'), stack.adminUrl, 'and iss')
  t.notOk(back.url.searchParams.has('code'), 'and no code')
  const user = await stack.store.getUserByEmail('alice@example.com')
  t.equal((await stack.store.listKeys({ limit: 10, userId: user?.id as string })).items.length, 0, 'no grant was made')
})
