// oauth.signingKeyFile keeps the access token signing key out of the store: reading every record
// of the store (SQLite or Redis) finds no private key, yet the AS signs with the file's first key
// and the gateway verifies its tokens with the public halves the AS published. Further keys of the
// file only verify. Without the file the same scan finds the store-held key (the scan can see it).
import t, { type Test } from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { calculateJwkThumbprint, type JWK } from 'jose'
import { startOAuthStack } from '../helpers/oauth-stack.ts'
import { apiKey, everythingStored, issuedToken, mcpStatus, mintedToken, publishedJwks } from '../helpers/oauth-tokens.ts'
import { tempDir } from '../helpers/stores.ts'

function p256 (): { pem: string, jwk: JWK } {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  return { pem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), jwk: privateKey.export({ format: 'jwk' }) as JWK }
}

function noKeyMaterial (t: Test, stored: string[], privates: JWK[]): void {
  t.notOk(stored.some(v => v.includes('"d":')), 'no record of the store holds a "d": member')
  for (const [i, jwk] of privates.entries()) t.notOk(stored.some(v => v.includes(jwk.d ?? '-')), `nor the private part of key ${i + 1} in any form`)
}

t.test('a PEM key file, SQLite store', async t => {
  const key = p256()
  const file = join(tempDir(t), 'signing.pem')
  writeFileSync(file, key.pem)
  const stack = await startOAuthStack(t, { oauth: { signingKeyFile: file } })
  const apiKeyOfAlice = await apiKey(stack)
  const issued = await issuedToken(stack, apiKeyOfAlice)
  t.equal(issued.kid, await calculateJwkThumbprint(key.jwk), 'signed with the file\'s key (kid: its RFC 7638 thumbprint)')
  t.equal(await mcpStatus(stack, issued.token), 200, 'the gateway verifies it')
  const jwks = await publishedJwks(stack)
  t.same(jwks, { kids: [issued.kid], private: false }, 'the AS publishes its public half')
  noKeyMaterial(t, await everythingStored(stack), [key.jwk])
})

t.test('a JWKS key file, Redis store: the first key signs, the second verifies only', async t => {
  const first = { ...p256().jwk, kid: 'file-key-1' }
  const second = { ...p256().jwk, kid: 'file-key-2' }
  const file = join(tempDir(t), 'signing.json')
  writeFileSync(file, JSON.stringify({ keys: [first, second] }))
  const stack = await startOAuthStack(t, { store: 'redis', oauth: { signingKeyFile: file } })
  const apiKeyOfAlice = await apiKey(stack)
  const issued = await issuedToken(stack, apiKeyOfAlice)
  t.equal(issued.kid, 'file-key-1', 'signed with the first key')
  t.equal(await mcpStatus(stack, issued.token), 200, 'the gateway verifies it')
  t.equal(await mcpStatus(stack, await mintedToken(second, issued.token, Date.now())), 200, 'a token of the second key verifies too')
  const stranger = await mintedToken({ ...p256().jwk, kid: 'file-key-1' }, issued.token, Date.now())
  t.equal(await mcpStatus(stack, stranger), 401, 'one of another key under the same kid does not')
  noKeyMaterial(t, await everythingStored(stack), [first, second])
})

t.test('without a key file the store holds the signing key (the scan finds it)', async t => {
  const stack = await startOAuthStack(t)
  const issued = await issuedToken(stack, await apiKey(stack))
  t.equal(await mcpStatus(stack, issued.token), 200)
  t.ok((await everythingStored(stack)).some(v => v.includes('"d":')), 'a private JWK is in the store')
})
