// Machine clients that speak OAuth only: client_credentials with client_id = the key id and
// client_secret = the whole API key (client_secret_post or client_secret_basic), verified as the
// gateway verifies a key (argon2 of its secret). The token stands for that key: its scope, its
// owner's permissions, its revocation. A wrong secret, a grant's id or a deleted key get nothing.
import t from 'tap'
import { decodeJwt } from 'jose'
import { startOAuthStack, type OAuthStack } from '../helpers/oauth-stack.ts'

async function token (stack: OAuthStack, form: Record<string, string>, basic?: [string, string]): Promise<{ status: number, body: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' }
  if (basic !== undefined) headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(basic[0])}:${encodeURIComponent(basic[1])}`).toString('base64')}`
  const res = await fetch(`${stack.adminUrl}/oauth/token`, { method: 'POST', headers, body: new URLSearchParams(form) })
  return { status: res.status, body: await res.json() as Record<string, unknown> }
}

async function mcpStatus (stack: OAuthStack, serverId: string, accessToken: string): Promise<number> {
  const res = await fetch(stack.mcpUrl(serverId), {
    method: 'POST',
    headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'm', version: '1' } } })
  })
  await res.arrayBuffer()
  return res.status
}

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

  const post = await token(stack, { grant_type: 'client_credentials', client_id: id, client_secret: key, resource, scope: 'mcp' })
  t.equal(post.status, 200, 'client_secret_post: a token')
  const accessToken = post.body.access_token as string
  t.equal(post.body.token_type, 'Bearer')
  t.notOk(post.body.refresh_token, 'no refresh token for client_credentials')
  const claims = decodeJwt(accessToken)
  t.equal(claims.aud, resource, 'bound to the endpoint')
  t.equal(claims.mcpgate_key, id, 'standing for the key')
  t.notMatch(JSON.stringify(claims), key.slice(-20), 'the key\'s secret is nowhere in the token')
  t.equal(await mcpStatus(stack, 'alpha', accessToken), 200, 'accepted by the gateway')

  const basic = await token(stack, { grant_type: 'client_credentials', resource, scope: 'mcp' }, [id, key])
  t.equal(basic.status, 200, 'client_secret_basic: a token too')

  const beta = await token(stack, { grant_type: 'client_credentials', client_id: id, client_secret: key, resource: stack.mcpUrl('beta'), scope: 'mcp' })
  const gamma = await token(stack, { grant_type: 'client_credentials', client_id: id, client_secret: key, resource: stack.mcpUrl('gamma'), scope: 'mcp' })
  t.equal(beta.status, 400, 'no token for beta, which the key does not reach')
  t.equal(beta.body.error, 'invalid_target', 'RFC 8707 invalid_target')
  t.same(beta.body, gamma.body, 'the same answer as for a server that does not exist (no oracle)')
  t.equal(await mcpStatus(stack, 'alpha', key), 200, 'the key itself still works where its token was used (the token path cached its record without a secret)')
  t.equal(await mcpStatus(stack, 'beta', key), 404, 'the key itself on beta: 404 in OAuth mode too (only a token bound to beta is told insufficient_scope)')

  const wrong = await token(stack, { grant_type: 'client_credentials', client_id: id, client_secret: `${key.slice(0, -1)}x`, resource, scope: 'mcp' })
  t.equal(wrong.status, 401, 'a wrong secret → 401')
  t.equal(wrong.body.error, 'invalid_client')
  const swapped = await token(stack, { grant_type: 'client_credentials', client_id: 'AAAAAAAAAAAAAAAA', client_secret: key, resource, scope: 'mcp' })
  t.equal(swapped.body.error, 'invalid_client', 'the key under another client_id → invalid_client')

  const del = await fetch(`${stack.adminUrl}/api/api-keys/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${alice}` } })
  t.equal(del.status, 204)
  t.equal(await mcpStatus(stack, 'alpha', accessToken), 401, 'the key deleted: its token is refused at once')
  const after = await token(stack, { grant_type: 'client_credentials', client_id: id, client_secret: key, resource, scope: 'mcp' })
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
  const issued = await token(stack, { grant_type: 'client_credentials', client_id: id, client_secret: fresh, resource: stack.mcpUrl('alpha'), scope: 'mcp' })
  t.equal(await mcpStatus(stack, 'alpha', issued.body.access_token as string), 200, 'the token first: the gateway caches the record without a secret')
  t.equal(await mcpStatus(stack, 'alpha', old), 200, 'the previous secret, verified')
  t.equal(await mcpStatus(stack, 'alpha', old), 200, 'and again, from the cache: its overlap was cached with it')
  t.equal(await mcpStatus(stack, 'alpha', fresh), 200, 'the new secret too')
})
