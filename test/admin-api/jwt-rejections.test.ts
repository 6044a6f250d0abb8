// Every way a bearer JWT can be wrong is a 401 MCPGATE_TOKEN_INVALID (or UNAUTHENTICATED when it
// is not a bearer credential at all), audited as a failed admin authentication without the token.
import t from 'tap'
import { ADMIN_TOKEN, startAdmin, testConfig } from '../helpers/admin.ts'
import { startOidcIssuer } from '../helpers/oidc.ts'

t.test('forged, expired, mis-addressed and malformed tokens are refused', async t => {
  const idp = await startOidcIssuer()
  t.teardown(() => idp.close())
  const h = await startAdmin(t, { config: testConfig({}, idp) })
  const who = { email: 'eve@example.com', name: 'Eve' }
  const now = Math.floor(Date.now() / 1000)

  const invalid: Array<[string, string]> = [
    ['expired (beyond the 30 s clock tolerance)', await idp.sign(who, { expiresIn: -60 })],
    ['not valid yet (nbf in an hour)', await idp.sign(who, { notBefore: now + 3600 })],
    ['without exp', await idp.sign(who, { omitExp: true })],
    ['wrong audience', await idp.sign(who, { audience: 'another-api' })],
    ['wrong issuer', await idp.sign(who, { issuer: 'https://evil.example.com' })],
    ['alg none', idp.unsigned(who)],
    ['HS256 keyed with the issuer\'s public key', await idp.forgeHs256(who)],
    ['signed by another key under the published kid', await idp.signWithUnpublishedKey(who, { kid: idp.currentKid })],
    ['payload altered after signing', (await idp.sign(who)).replace(/\.([^.]+)\./, (_m, p: string) => `.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), email: 'boss@example.com' })).toString('base64url')}.`)],
    ['not a JWT', 'hello-world'],
    ['a JWT-shaped string of garbage', 'abc.def.ghi']
  ]
  for (const [label, token] of invalid) {
    const res = await h.request({ method: 'GET', url: '/api/me', token })
    t.equal(res.statusCode, 401, label)
    t.equal(res.json().code, 'MCPGATE_TOKEN_INVALID', `${label}: code`)
    t.equal(res.headers['www-authenticate'], 'Bearer realm="mcpgate-admin", error="invalid_token"', `${label}: WWW-Authenticate`)
  }

  const notBearer: Array<[string, Record<string, string>]> = [
    ['no Authorization', {}],
    ['Basic auth', { authorization: 'Basic ' + Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64') }],
    ['the admin token without Bearer', { authorization: ADMIN_TOKEN }],
    ['empty Bearer', { authorization: 'Bearer ' }]
  ]
  for (const [label, headers] of notBearer) {
    const res = await h.request({ method: 'GET', url: '/api/me', headers })
    t.equal(res.statusCode, 401, label)
    t.equal(res.json().code, 'MCPGATE_UNAUTHENTICATED', `${label}: code`)
  }

  t.equal((await h.request({ method: 'GET', url: '/api/me', token: `${ADMIN_TOKEN}x` })).statusCode, 401, 'admin token with a suffix')
  t.equal((await h.request({ method: 'GET', url: '/api/me', headers: { authorization: `bearer ${ADMIN_TOKEN}` } })).statusCode, 200, 'scheme is case-insensitive (RFC 9110)')
  t.equal((await h.request({ method: 'GET', url: '/api/me', token: await idp.sign(who, { expiresIn: -10 }) })).statusCode, 200, 'expired within the clock tolerance')

  t.equal(await h.store.getUserByEmail('eve@example.com') === null ? 'absent' : 'present', 'present', 'only the valid token provisioned a user')
  t.equal(await h.store.getUserByEmail('boss@example.com'), null, 'the altered payload provisioned nobody')

  const failures = h.auditEvents('admin.auth_failed')
  t.equal(failures.length, invalid.length + notBearer.length + 1, 'one audit event per refusal')
  for (const e of failures) {
    t.equal(e.actor, null)
    t.type(e.target.reason, 'string')
    t.type(e.requestId, 'string')
    t.equal(e.ip, '127.0.0.1')
  }
  const logText = JSON.stringify(h.logs)
  for (const [label, token] of invalid) t.notOk(logText.includes(token), `${label}: token not logged`)
  t.notOk(logText.includes(ADMIN_TOKEN), 'admin token not logged')
})

t.test('a token in an algorithm outside config.admin.oidc.algorithms is refused', async t => {
  const idp = await startOidcIssuer({ alg: 'ES256' })
  t.teardown(() => idp.close())
  const base = testConfig({}, idp)
  const h = await startAdmin(t, { config: testConfig({ admin: { oidc: { ...base.admin.oidc, algorithms: ['RS256'] } } }) })
  const res = await h.request({ method: 'GET', url: '/api/me', token: await idp.sign({ email: 'ec@example.com' }) })
  t.equal(res.statusCode, 401)
  t.equal(res.json().code, 'MCPGATE_TOKEN_INVALID')
  const allowed = await startAdmin(t, { config: base })
  t.equal((await allowed.request({ method: 'GET', url: '/api/me', token: await idp.sign({ email: 'ec@example.com' }) })).statusCode, 200, 'accepted when ES256 is allowed')
})
