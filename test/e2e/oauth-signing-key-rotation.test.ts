// Rotating the access token signing key without a restart. Store-held key: `mcpgate oauth
// rotate-signing-key` makes a new one; the running admin API signs with it at its next reload
// (30 s on its clock); a token of the old key keeps working for the access token lifetime + 60 s
// and is refused after; the next rotation drops the old key from the store. Key file: the new key
// put first, the old one after, then SIGHUP: the same, with no key in the store.
import t from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { JWK } from 'jose'
import { runOAuthCommand } from '../../cli/oauth.ts'
import { ManualClock } from '../../core/clock.ts'
import type { AuthorizationServerSecrets } from '../../core/oauth.ts'
import { SqliteStore } from '../../core/store/sqlite.ts'
import { startOAuthStack } from '../helpers/oauth-stack.ts'
import { apiKey, issuedToken, mcpStatus, mintedToken, publishedJwks } from '../helpers/oauth-tokens.ts'
import { tempDir } from '../helpers/stores.ts'

const TTL_S = 600
/** oauth.accessTokenTtlSeconds + 60 s (core/oauth.ts retentionMs). */
const RETENTION_MS = (TTL_S + 60) * 1000
const RELOAD_MS = 30_000

t.test('mcpgate oauth rotate-signing-key, store-held key', async t => {
  const clock = new ManualClock(Date.now())
  const stack = await startOAuthStack(t, { adminClock: clock, gatewayClock: clock, oauth: { accessTokenTtlSeconds: TTL_S } })
  const store = stack.store
  if (!(store instanceof SqliteStore)) throw new TypeError('expected the SQLite stack')
  const configFile = join(tempDir(t), 'mcpgate.yaml')
  writeFileSync(configFile, `store: { type: sqlite, path: ${JSON.stringify(store.path)} }\noauth: { accessTokenTtlSeconds: ${TTL_S} }\n`)
  const rotate = async (): Promise<string[]> => {
    const out: string[] = []
    const code = await runOAuthCommand(['rotate-signing-key', '--config', configFile], {}, { out: l => out.push(l), err: l => out.push(l) }, clock)
    if (code !== 0) throw new Error(`rotate-signing-key: exit ${code}: ${out.join('\n')}`)
    return out
  }
  const secrets = async (): Promise<AuthorizationServerSecrets> => JSON.parse(await store.getRecord('oauth:secrets') ?? 'null') as AuthorizationServerSecrets

  const key = await apiKey(stack)
  const first = await issuedToken(stack, key)
  t.equal(await mcpStatus(stack, first.token), 200, 'before: a token works (the gateway has read the keys)')
  const before = await issuedToken(stack, key)
  t.equal(before.kid, first.kid)

  const rotatedAt = clock.now()
  const output = await rotate()
  const afterRotation = await secrets()
  const [newKey, oldKey] = afterRotation.keys as [JWK, JWK]
  t.equal(oldKey.kid, first.kid, 'the old key is kept after the new one')
  t.same(afterRotation.retiredAt, { [first.kid]: rotatedAt }, 'with the time it was retired')
  t.match(output.join('\n'), `${newKey.kid ?? ''} signs from now on`)
  t.match(output.join('\n'), `${first.kid} verifies until ${new Date(rotatedAt + RETENTION_MS).toISOString()}`)
  t.equal((await issuedToken(stack, key)).kid, first.kid, 'the admin API has not read the keys again yet')

  clock.advance(RELOAD_MS)
  const after = await issuedToken(stack, key)
  t.equal(after.kid, newKey.kid, 'once it has (30 s on): new tokens carry the new kid')
  t.equal(await mcpStatus(stack, after.token), 200, 'and the gateway takes them (an unknown kid: keys read again)')
  t.equal(await mcpStatus(stack, before.token), 200, 'a token issued before the rotation still works, checked after the gateway read the keys again')
  t.same((await publishedJwks(stack)).kids, [newKey.kid, first.kid], 'the AS publishes both')
  t.equal(await mcpStatus(stack, await mintedToken(oldKey, first.token, clock.now())), 200, 'a fresh token of the old key: still within its retention')

  clock.set(rotatedAt + RETENTION_MS)
  t.equal(await mcpStatus(stack, await mintedToken(oldKey, first.token, clock.now())), 401, 'past its retention a token of the old key is refused, however fresh')
  t.equal(await mcpStatus(stack, await mintedToken(newKey, first.token, clock.now())), 200, 'while one of the new key works at that time')
  t.same((await publishedJwks(stack)).kids, [newKey.kid], 'and the AS (reading the keys again) no longer publishes the old one')

  const second = await rotate()
  t.match(second.join('\n'), `${first.kid} removed (past its retention)`)
  const kids = (await secrets()).keys.map(k => k.kid)
  t.equal(kids.length, 2, 'the next rotation keeps the new and the previous key')
  t.notOk(kids.includes(first.kid), 'and drops the one past its retention from the store')
})

t.test('a key file: the new key first, the old one after, SIGHUP', async t => {
  const clock = new ManualClock(Date.now())
  const jwkOf = (kid: string): JWK => ({ ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }) as JWK, kid })
  const oldKey = jwkOf('old')
  const newKey = jwkOf('new')
  const file = join(tempDir(t), 'signing.json')
  writeFileSync(file, JSON.stringify(oldKey))
  const stack = await startOAuthStack(t, { adminClock: clock, gatewayClock: clock, oauth: { signingKeyFile: file } })
  const key = await apiKey(stack)
  const first = await issuedToken(stack, key)
  t.equal(first.kid, 'old')
  t.equal(await mcpStatus(stack, first.token), 200)
  const before = await issuedToken(stack, key)

  writeFileSync(file, JSON.stringify({ keys: [newKey, oldKey] }))
  t.equal((await issuedToken(stack, key)).kid, 'old', 'the file is not read again on its own within 30 s')
  stack.admin.mcpgateAdmin.reload(stack.config)
  const after = await issuedToken(stack, key)
  t.equal(after.kid, 'new', 'after SIGHUP the new key signs')
  clock.advance(5000)
  t.equal(await mcpStatus(stack, after.token), 200, 'the gateway takes its tokens (public keys published again)')
  t.equal(await mcpStatus(stack, before.token), 200, 'and still those of the old key')
  t.same((await publishedJwks(stack)).kids, ['new', 'old'])

  writeFileSync(file, JSON.stringify({ keys: [newKey] }))
  clock.advance(RELOAD_MS)
  t.equal((await issuedToken(stack, key)).kid, 'new', 'the old key removed from the file: read again after 30 s')
  clock.advance(5000)
  t.equal(await mcpStatus(stack, await mintedToken(oldKey, first.token, clock.now())), 401, 'a token of the removed key is refused once the gateway has read the keys again (every 30 s)')
})

t.test('with oauth.signingKeyFile the command refuses and says how to rotate the file', async t => {
  const dir = tempDir(t)
  const configFile = join(dir, 'mcpgate.yaml')
  writeFileSync(configFile, 'store: { type: sqlite, path: ./data/m.db }\noauth: { signingKeyFile: signing.pem }\n')
  const err = await runOAuthCommand(['rotate-signing-key', '--config', configFile], {}, { out: () => {}, err: () => {} }, new ManualClock()).then(() => null, (e: unknown) => e as Error)
  t.match(err?.message, /^oauth\.signingKeyFile is set .*: put the new key first in the file and the old one after it, then send SIGHUP/)
})
