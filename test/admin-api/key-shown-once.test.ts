// The full key leaves the server exactly once — in the 201 that created it — over a tour of
// every route, and no response or log line ever carries a hash (`$argon2`) or the secret.
import t from 'tap'
import { ADMIN_GROUP, ADMIN_TOKEN, assertNoHashLeaked, occurrences, startAdmin, testConfig } from '../helpers/admin.ts'
import { startOidcIssuer } from '../helpers/oidc.ts'

t.test('the key appears in exactly one response over every route', async t => {
  const idp = await startOidcIssuer()
  t.teardown(() => idp.close())
  const h = await startAdmin(t, { config: testConfig({}, idp) })
  const user = await idp.sign({ email: 'una@example.com', name: 'Una', groups: ['beta-team'] }, { expiresIn: 3600 })
  const admin = await idp.sign({ email: 'root@example.com', groups: [ADMIN_GROUP] }, { expiresIn: 3600 })

  const own = await h.request({ method: 'POST', url: '/api/api-keys', token: user, body: { name: 'laptop', description: 'work', mcpServerIds: ['alpha', 'beta'], expiresAt: '2099-01-01T00:00:00Z' } })
  t.equal(own.statusCode, 201)
  const svcUser = await h.request({ method: 'POST', url: '/api/users', token: ADMIN_TOKEN, body: { email: 'robot@example.com', name: 'CI robot' } })
  const svc = await h.request({ method: 'POST', url: `/api/users/${svcUser.json().id}/api-keys`, token: admin, body: { name: 'ci', mcpServerIds: ['*'] } })
  t.equal(svc.statusCode, 201)
  const keys = [own.json(), svc.json()]
  for (const k of keys) t.match(k.key, new RegExp(`^ok1-${k.userId}-${k.id}-[A-Za-z0-9]{46}$`), 'the full key is in the 201')

  const ownId = own.json().id
  const svcId = svc.json().id
  const uid = own.json().userId
  const tour: Array<[string, string, string?, unknown?]> = [
    ['GET', '/api/api-keys', user],
    ['GET', `/api/api-keys/${ownId}`, user],
    ['GET', `/api/api-keys/${svcId}`, user],
    ['GET', '/api/admin-api-keys', admin],
    ['GET', `/api/admin-api-keys?userId=${uid}`, ADMIN_TOKEN],
    ['GET', `/api/admin-api-keys/${ownId}`, admin],
    ['GET', `/api/admin-api-keys/${svcId}`, ADMIN_TOKEN],
    ['GET', '/api/me', user],
    ['GET', '/api/mcp-servers', user],
    ['GET', '/api/mcp-servers', admin],
    ['GET', '/api/users', admin],
    ['GET', `/api/users/${uid}`, ADMIN_TOKEN],
    ['PATCH', `/api/users/${uid}`, ADMIN_TOKEN, { name: 'Una B.' }],
    ['POST', '/api/api-keys', user, { name: 'bad', mcpServerIds: ['gamma'] }],
    ['POST', '/api/api-keys', own.json().key, { name: 'with a key', mcpServerIds: ['alpha'] }],
    ['GET', '/api/me', own.json().key],
    ['GET', '/openapi.json'],
    ['GET', '/healthz'],
    ['GET', '/readyz'],
    ['DELETE', `/api/api-keys/${ownId}`, user],
    ['DELETE', `/api/admin-api-keys/${svcId}`, admin],
    ['GET', `/api/api-keys/${ownId}`, user]
  ]
  for (const [method, url, token, body] of tour) {
    const res = await h.request({ method: method as 'GET', url, ...(token === undefined ? {} : { token }), ...(body === undefined ? {} : { body }) })
    t.ok(res.statusCode < 500, `${method} ${url}: ${res.statusCode}`)
  }

  t.equal(h.responses.length, tour.length + 3, 'every response captured')
  for (const k of keys) {
    t.equal(occurrences(h.responses, k.key), 1, 'the full key: exactly one response')
    t.equal(occurrences(h.responses, k.key.slice(-46)), 1, 'its secret: exactly one response')
    t.notOk(h.logs.some(l => JSON.stringify(l).includes(k.key.slice(-46))), 'the secret is in no log line')
  }
  t.notOk(h.responses.some(r => r.body.includes('secretHash')), 'no response even names secretHash')
  assertNoHashLeaked(t, h)
  const stored = await h.store.listKeys({ limit: 10 })
  t.equal(stored.items.length, 0, 'both keys deleted at the end')
})
