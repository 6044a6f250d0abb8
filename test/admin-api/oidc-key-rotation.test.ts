// OIDC key rotation by `kid`, against a local issuer: a token signed by a key rotated into the
// JWKS is accepted once the JWKS changes (the unknown kid triggers a refetch), the JWKS is not
// refetched for every request, and a kid the JWKS does not publish is refused.
import t from 'tap'
import { startAdmin, testConfig } from '../helpers/admin.ts'
import { startOidcIssuer } from '../helpers/oidc.ts'

t.test('a token signed by a newly rotated-in key is accepted; an unknown kid is not', async t => {
  const idp = await startOidcIssuer()
  t.teardown(() => idp.close())
  // No cooldown: the refetch on an unknown kid happens at once instead of 30 s later.
  const h = await startAdmin(t, { config: testConfig({}, idp), jwksCooldownMs: 0 })
  const me = async (token: string) => h.request({ method: 'GET', url: '/api/me', token })
  const alice = { email: 'alice@example.com', name: 'Alice' }

  const first = await me(await idp.sign(alice))
  t.equal(first.statusCode, 200, 'signed by the original key')
  t.equal((await me(await idp.sign(alice))).statusCode, 200, 'again')
  t.equal(idp.jwksFetches, 1, 'the JWKS is cached between requests')

  const oldKid = idp.currentKid
  const newKid = await idp.rotate()
  t.not(newKid, oldKid)
  const rotated = await me(await idp.sign(alice))
  t.equal(rotated.statusCode, 200, 'signed by the rotated-in key')
  t.equal(rotated.json().user.id, first.json().user.id, 'same user')
  t.equal(idp.jwksFetches, 2, 'the unknown kid caused one refetch')
  t.equal((await me(await idp.sign(alice, { kid: oldKid }))).statusCode, 401, 'a new kid with the old key material fails the signature')

  const rogue = await me(await idp.signWithUnpublishedKey(alice))
  t.equal(rogue.statusCode, 401, 'a kid the JWKS never published')
  t.equal(rogue.json().code, 'MCPGATE_TOKEN_INVALID')
  t.match(String(rogue.headers['www-authenticate']), /error="invalid_token"/)
})

t.test('a flood of unknown kids does not hammer the IdP (default cooldown)', async t => {
  const idp = await startOidcIssuer()
  t.teardown(() => idp.close())
  const h = await startAdmin(t, { config: testConfig({}, idp) })
  t.equal((await h.request({ method: 'GET', url: '/api/me', token: await idp.sign({ email: 'bob@example.com' }) })).statusCode, 200)
  const fetchesBefore = idp.jwksFetches
  for (let i = 0; i < 20; i++) {
    const res = await h.request({ method: 'GET', url: '/api/me', token: await idp.signWithUnpublishedKey({ email: 'bob@example.com' }, { kid: `made-up-${i}` }) })
    t.equal(res.statusCode, 401)
  }
  t.equal(idp.jwksFetches, fetchesBefore, 'no refetch within the cooldown after a recent fetch')
})
