// Machine clients that speak OAuth only: client_credentials with client_id = the key id and
// client_secret = the whole API key (client_secret_post or client_secret_basic), verified as the
// gateway verifies a key (argon2 of its secret). The token stands for that key: its scope, its
// owner's permissions, its revocation. A wrong secret, a grant's id or a deleted key get nothing.
import t from 'tap'
import { decodeJwt } from 'jose'
import { startOAuthStack } from '../helpers/oauth-stack.ts'
import { mcpStatus, tokenRequest } from '../helpers/oauth-tokens.ts'

t.test('client_credentials with an API key', async t => {
  const stack = await startOAuthStack(t)
  const alice = await stack.idp.sign({ email: 'alice@example.com', name: 'Alice' })
  const created = await fetch(`${stack.adminUrl}/api/api-keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'ci robot', mcpServerIds: ['alpha'] })
  })
  t.equal(created.status, 201)
  const { key, id } = await created.json() as { key: string, id: string }
  const resource = stack.mcpUrl('alpha')

  const post = await tokenRequest(stack, { grant_type: 'client_credentials', client_id: id, client_secret: key, resource, scope: 'mcp' })
  t.equal(post.status, 200, 'client_secret_post: a token')
  const accessToken = post.body.access_token as string
  t.equal(post.body.token_type, 'Bearer')
  t.notOk(post.body.refresh_token, 'no refresh token for client_credentials')
  const claims = decodeJwt(accessToken)
  t.equal(claims.aud, resource, 'bound to the endpoint')
  t.equal(claims.mcpgate_key, id, 'standing for the key')
  t.notMatch(JSON.stringify(claims), key.slice(-20), 'the key\'s secret is nowhere in the token')
  t.equal(await mcpStatus(stack, accessToken, 'alpha'), 200, 'accepted by the gateway')

  const basic = await tokenRequest(stack, { grant_type: 'client_credentials', resource, scope: 'mcp' }, [id, key])
  t.equal(basic.status, 200, 'client_secret_basic: a token too')

  const beta = await tokenRequest(stack, { grant_type: 'client_credentials', client_id: id, client_secret: key, resource: stack.mcpUrl('beta'), scope: 'mcp' })
  const gamma = await tokenRequest(stack, { grant_type: 'client_credentials', client_id: id, client_secret: key, resource: stack.mcpUrl('gamma'), scope: 'mcp' })
  t.equal(beta.status, 400, 'no token for beta, which the key does not reach')
  t.equal(beta.body.error, 'invalid_target', 'RFC 8707 invalid_target')
  t.same(beta.body, gamma.body, 'the same answer as for a server that does not exist (no oracle)')
  t.equal(await mcpStatus(stack, key, 'alpha'), 200, 'the key itself still works where its token was used (the token path cached its record without a secret)')
  t.equal(await mcpStatus(stack, key, 'beta'), 404, 'the key itself on beta: 404 in OAuth mode too (only a token bound to beta is told insufficient_scope)')

  const wrong = await tokenRequest(stack, { grant_type: 'client_credentials', client_id: id, client_secret: `${key.slice(0, -1)}x`, resource, scope: 'mcp' })
  t.equal(wrong.status, 401, 'a wrong secret → 401')
  t.equal(wrong.body.error, 'invalid_client')
  const swapped = await tokenRequest(stack, { grant_type: 'client_credentials', client_id: 'AAAAAAAAAAAAAAAA', client_secret: key, resource, scope: 'mcp' })
  t.equal(swapped.body.error, 'invalid_client', 'the key under another client_id → invalid_client')

  const del = await fetch(`${stack.adminUrl}/api/api-keys/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${alice}` } })
  t.equal(del.status, 204)
  t.equal(await mcpStatus(stack, accessToken, 'alpha'), 401, 'the key deleted: its token is refused at once')
  const after = await tokenRequest(stack, { grant_type: 'client_credentials', client_id: id, client_secret: key, resource, scope: 'mcp' })
  t.equal(after.body.error, 'invalid_client', 'and no new token')
})

t.test('a rotated key whose token reached the gateway first: its previous secret keeps working there until the overlap ends', async t => {
  const stack = await startOAuthStack(t)
  const alice = await stack.idp.sign({ email: 'alice@example.com', name: 'Alice' })
  const created = await fetch(`${stack.adminUrl}/api/api-keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'rotating robot', mcpServerIds: ['alpha'] })
  })
  const { key: old, id } = await created.json() as { key: string, id: string }
  const rotated = await fetch(`${stack.adminUrl}/api/api-keys/${id}/rotate`, { method: 'POST', headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' }, body: JSON.stringify({ overlapSeconds: 600 }) })
  const fresh = (await rotated.json() as { key: string }).key
  const issued = await tokenRequest(stack, { grant_type: 'client_credentials', client_id: id, client_secret: fresh, resource: stack.mcpUrl('alpha'), scope: 'mcp' })
  t.equal(await mcpStatus(stack, issued.body.access_token as string, 'alpha'), 200, 'the token first: the gateway caches the record without a secret')
  t.equal(await mcpStatus(stack, old, 'alpha'), 200, 'the previous secret, verified')
  t.equal(await mcpStatus(stack, old, 'alpha'), 200, 'and again, from the cache: its overlap was cached with it')
  t.equal(await mcpStatus(stack, fresh, 'alpha'), 200, 'the new secret too')
})
