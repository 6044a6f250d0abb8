// A grant's life after consent: refresh tokens rotate at every use and a used one presented again
// revokes the grant (its key is deleted, so the gateway refuses the access tokens already out);
// deleting the grant like a key (DELETE /api/api-keys/:id) refuses its token at the next request
// and ends its refresh; the grant is listed with the user's keys.
import t, { type Test } from 'tap'
import { auth } from '@modelcontextprotocol/sdk/client/auth.js'
import { ManualClock } from '../../core/clock.ts'
import { StoreAdapter } from '../../admin-api/oauth/adapter.ts'
import { consentAs, CookieBrowser, startOAuthStack, TestOAuthClient, type OAuthStack } from '../helpers/oauth-stack.ts'
import { mcpStatus } from '../helpers/oauth-tokens.ts'

async function granted (t: Test, stack: OAuthStack, userToken: string): Promise<{ client: TestOAuthClient, keyId: string }> {
  const client = new TestOAuthClient({ name: 'Refresher' })
  const endpoint = stack.mcpUrl('alpha')
  t.equal(await auth(client, { serverUrl: endpoint }), 'REDIRECT')
  const { callback, keyId } = await consentAs(stack, new CookieBrowser(), client.authorizationUrl as URL, userToken, { mcpServerIds: ['alpha'] })
  t.equal(await auth(client, { serverUrl: endpoint, authorizationCode: callback.searchParams.get('code') as string }), 'AUTHORIZED')
  return { client, keyId }
}

async function refresh (stack: OAuthStack, client: TestOAuthClient, refreshToken: string): Promise<{ status: number, body: Record<string, unknown> }> {
  const res = await fetch(`${stack.adminUrl}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: String(client.client?.client_id) })
  })
  return { status: res.status, body: await res.json() as Record<string, unknown> }
}

t.test('refresh tokens rotate; a used one presented again revokes the grant and its access tokens', async t => {
  const stack = await startOAuthStack(t)
  const alice = await stack.idp.sign({ email: 'alice@example.com', name: 'Alice' })
  const { client, keyId } = await granted(t, stack, alice)
  const first = client.saved?.refresh_token as string
  t.equal(await mcpStatus(stack, client.saved?.access_token as string), 200, 'the first access token works')

  const rotated = await refresh(stack, client, first)
  t.equal(rotated.status, 200, 'a refresh')
  const second = rotated.body.refresh_token as string
  t.ok(second, 'with a new refresh token')
  t.not(second, first, 'rotated')
  const accessToken = rotated.body.access_token as string
  t.equal(await mcpStatus(stack, accessToken), 200, 'the refreshed access token works at the gateway')

  const replay = await refresh(stack, client, first)
  t.equal(replay.status, 400, 'the used refresh token again → 400')
  t.equal(replay.body.error, 'invalid_grant')
  t.equal(await stack.store.getKey(keyId), null, 'reuse detection revoked the grant: its key is gone')
  t.equal((await refresh(stack, client, second)).status, 400, 'the newest refresh token of the grant is refused too')
  t.equal(await mcpStatus(stack, accessToken), 401, 'and the access token already out is refused by the gateway')
})

t.test('two uses of one refresh token at the same moment are reuse: the grant is revoked, no token set survives', async t => {
  const stack = await startOAuthStack(t)
  const alice = await stack.idp.sign({ email: 'alice@example.com', name: 'Alice' })
  const { client, keyId } = await granted(t, stack, alice)
  const token = client.saved?.refresh_token as string
  const both = await Promise.all([refresh(stack, client, token), refresh(stack, client, token)])
  t.ok(both.some(r => r.status === 400 && r.body.error === 'invalid_grant'), 'one of them is refused invalid_grant')
  t.equal(await stack.store.getKey(keyId), null, 'the grant is revoked: its key is gone')
  for (const r of both.filter(r => r.status === 200)) {
    t.equal(await mcpStatus(stack, r.body.access_token as string), 401, 'the access token the other one got is refused at the gateway')
    t.equal((await refresh(stack, client, r.body.refresh_token as string)).status, 400, 'and its refresh token is refused')
  }
})

t.test('the store\'s consumed mark decides between two uses that both found the token unused', async t => {
  // oidc-provider checks `consumed` when it loads a token and marks it later: two requests can both
  // pass the check. Here both are past it, at the adapter (the seam), so the race is certain.
  const stack = await startOAuthStack(t)
  const alice = await stack.idp.sign({ email: 'alice@example.com', name: 'Alice' })
  const { client, keyId } = await granted(t, stack, alice)
  const token = client.saved?.refresh_token as string
  const adapter = () => new StoreAdapter('RefreshToken', { store: stack.store, consumedTtlMs: 60_000 })
  t.equal((await adapter().find(token))?.consumed, undefined, 'found unused')
  const outcomes = await Promise.allSettled([adapter().consume(token), adapter().consume(token)])
  t.equal(outcomes.filter(o => o.status === 'fulfilled').length, 1, 'one use is taken')
  const refused = outcomes.find(o => o.status === 'rejected')
  t.match(refused?.status === 'rejected' ? refused.reason : undefined, { error: 'invalid_grant', error_detail: 'refresh token already used' }, 'the other is invalid_grant')
  t.equal(await stack.store.getKey(keyId), null, 'and revokes the grant')
  t.equal(await adapter().find(token), undefined, 'its tokens are gone from the store')
  t.equal((await refresh(stack, client, token)).status, 400, 'the refresh token is refused over HTTP too')
})

t.test('a grant is listed with the keys and revoked like one', async t => {
  const stack = await startOAuthStack(t, { store: 'redis' })
  const alice = await stack.idp.sign({ email: 'alice@example.com', name: 'Alice' })
  const { client, keyId } = await granted(t, stack, alice)
  const accessToken = client.saved?.access_token as string

  const list = await fetch(`${stack.adminUrl}/api/api-keys`, { headers: { authorization: `Bearer ${alice}` } })
  const items = (await list.json() as { items: Array<{ id: string, name: string, oauth?: { clientName: string, redirectHost: string } }> }).items
  const listed = items.find(k => k.id === keyId)
  t.equal(listed?.name, 'OAuth · Refresher', 'listed on the user\'s keys')
  t.same(listed?.oauth, { clientId: client.client?.client_id, clientName: 'Refresher', redirectHost: '127.0.0.1:9' }, 'marked as an OAuth grant')

  const rotate = await fetch(`${stack.adminUrl}/api/api-keys/${keyId}/rotate`, { method: 'POST', headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' }, body: '{}' })
  t.equal(rotate.status, 409, 'a grant has no secret to rotate')
  t.equal((await rotate.json() as { code: string }).code, 'MCPGATE_OAUTH_GRANT_NOT_ROTATABLE')

  t.equal(await mcpStatus(stack, accessToken), 200, 'the token works before')
  const del = await fetch(`${stack.adminUrl}/api/api-keys/${keyId}`, { method: 'DELETE', headers: { authorization: `Bearer ${alice}` } })
  t.equal(del.status, 204, 'deleted like a key')
  // Redis: the gateway's store instance hears the invalidation over pub/sub.
  const deadline = Date.now() + 1000
  let status = await mcpStatus(stack, accessToken)
  while (status !== 401 && Date.now() < deadline) status = await mcpStatus(stack, accessToken)
  t.equal(status, 401, 'the next requests with its token are refused within the revocation budget')
  const again = await refresh(stack, client, client.saved?.refresh_token as string)
  t.equal(again.status, 400, 'its refresh token is refused')
  t.equal(again.body.error, 'invalid_grant')
})

t.test('a grant past its lifetime (oauth.grantTtlDays) refreshes no more', async t => {
  const clock = new ManualClock(Date.now())
  const stack = await startOAuthStack(t, { adminClock: clock, oauth: { grantTtlDays: 1 } })
  const alice = await stack.idp.sign({ email: 'alice@example.com', name: 'Alice' })
  const { client, keyId } = await granted(t, stack, alice)
  t.equal((await stack.store.getKey(keyId))?.expiresAt, clock.now() + 86_400_000, 'the grant\'s key expires with the grant')
  const first = await refresh(stack, client, client.saved?.refresh_token as string)
  t.equal(first.status, 200, 'a refresh within its lifetime')
  clock.advance(86_400_000 + 1000)
  const late = await refresh(stack, client, first.body.refresh_token as string)
  t.equal(late.status, 400, 'past it: refused')
  t.equal(late.body.error, 'invalid_grant')
})
