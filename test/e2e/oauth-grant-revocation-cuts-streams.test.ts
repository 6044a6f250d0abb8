// A grant's open streams belong to its key record, as a key's do: revoking the grant (DELETE
// /api/api-keys/:id, here through the admin API as its owner) ends the Streamable HTTP GET stream
// its access token opened, within the revocation budget, and aborts the upstream request.
import t from 'tap'
import { auth } from '@modelcontextprotocol/sdk/client/auth.js'
import { initSession, openStream } from '../helpers/mcp-raw.ts'
import { consentAs, CookieBrowser, startOAuthStack, TestOAuthClient } from '../helpers/oauth-stack.ts'

t.test('revoking a grant ends the stream its token opened', async t => {
  const stack = await startOAuthStack(t)
  const endpoint = stack.mcpUrl('alpha')
  const client = new TestOAuthClient({ name: 'Streamer' })
  t.equal(await auth(client, { serverUrl: endpoint }), 'REDIRECT')
  const alice = await stack.idp.sign({ email: 'alice@example.com', name: 'Alice' })
  const { callback, keyId } = await consentAs(stack, new CookieBrowser(), client.authorizationUrl as URL, alice, { mcpServerIds: ['alpha'] })
  t.equal(await auth(client, { serverUrl: endpoint, authorizationCode: callback.searchParams.get('code') as string }), 'AUTHORIZED')
  const token = client.saved?.access_token as string

  const session = await initSession(endpoint, token)
  const stream = await openStream(endpoint, { method: 'GET', headers: { ...session.headers, accept: 'text/event-stream' } })
  t.equal(stream.status, 200, 'the token opened a GET stream')
  t.equal(stack.gateway.mcpgate.revocation.size, 1, 'filed under the grant\'s key')

  const started = Date.now()
  const del = await fetch(`${stack.adminUrl}/api/api-keys/${keyId}`, { method: 'DELETE', headers: { authorization: `Bearer ${alice}` } })
  t.equal(del.status, 204, 'the grant revoked like a key')
  t.equal(await stream.ended(), 'end', 'the stream ended cleanly')
  t.ok(Date.now() - started < 1000, 'promptly (one process, SQLite: the store delivers the invalidation in-process)')
  t.equal(stack.gateway.mcpgate.revocation.size, 0, 'nothing left open')
})
