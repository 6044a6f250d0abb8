// OAuth mode keeps the token path as cheap as the key path (measured with `"$token": true` in bench/variants.ts and bench/instructions.ts): a
// token's signature is verified once, then the token is remembered by its signature's sha256 until it expires,
// and the key record it names comes from the key cache — so a token seen again costs a hash and
// two map lookups, no signature check and no store read. A token for another endpoint is still
// refused from that memory (its audience is kept with it).
import t from 'tap'
import { importJWK, SignJWT, type JWK } from 'jose'
import { authorizationServerSecrets, KEY_CLAIM } from '../../core/oauth.ts'
import { startOAuthStack } from '../helpers/oauth-stack.ts'

t.test('a token is verified once, then answered from memory like a cached key', async t => {
  const stack = await startOAuthStack(t)
  const user = await stack.store.createUser({ email: 'carol@example.com', name: 'Carol', role: 'user', groups: [] })
  const keyId = 'CachedGrant00001'
  await stack.store.createKey({ id: keyId, userId: user.id, name: 'OAuth · c', description: '', mcpServerIds: ['*'], createdAt: Date.now(), expiresAt: null, lastUsedAt: null, secretHash: '$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA', oauth: { clientId: 'c', clientName: 'c', redirectHost: 'h' } })
  const jwk = (await authorizationServerSecrets(stack.store)).keys[0] as JWK
  const now = Math.floor(Date.now() / 1000)
  const token = await new SignJWT({ [KEY_CLAIM]: keyId })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: String(jwk.kid) })
    .setIssuer(stack.adminUrl).setAudience(stack.mcpUrl('alpha')).setIssuedAt(now).setExpirationTime(now + 600)
    .sign(await importJWK(jwk, 'ES256'))
  const send = async (serverId: string) => await sendWith(token, serverId)
  const sendWith = async (bearer: string, serverId: string) => {
    const res = await fetch(stack.mcpUrl(serverId), {
      method: 'POST',
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'n', version: '1' } } })
    })
    await res.arrayBuffer()
    return res.status
  }
  const control = stack.gateway.mcpgate
  const oauth = control.oauth
  if (oauth === null) throw new Error('OAuth mode is on in this stack')
  t.equal(await send('alpha'), 200, 'the first request')
  t.equal(oauth.verifications, 1, 'one signature verification')
  const reads = control.stats.storeReads
  const hits = control.stats.cacheHits
  for (let i = 0; i < 5; i++) t.equal(await send('alpha'), 200, `request ${i + 2}`)
  t.equal(oauth.verifications, 1, 'no more signature verifications for the same token')
  t.equal(control.stats.storeReads, reads, 'and no store reads: the key record came from the key cache')
  t.equal(control.stats.cacheHits, hits + 5, 'five key-cache hits')
  t.equal(await send('beta'), 401, 'the same token on another endpoint is refused')
  t.equal(oauth.verifications, 1, 'from memory too')

  // Remembered by its signature: a payload rewritten under the same signature is answered as
  // the verified token (its audience), so rewriting gains nothing.
  const [header, , signature] = token.split('.')
  const rewritten = `${header}.${Buffer.from(JSON.stringify({ [KEY_CLAIM]: keyId, aud: stack.mcpUrl('beta'), exp: now + 99999, iss: stack.adminUrl })).toString('base64url')}.${signature}`
  t.equal(await sendWith(rewritten, 'beta'), 401, 'a payload rewritten for beta is still refused on beta')
  t.equal(await sendWith(rewritten, 'alpha'), 200, 'and on alpha it is the verified token, nothing more')
})
