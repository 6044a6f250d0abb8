// When the store cannot be reached, the admin API answers 503 with Retry-After (never 401 for a
// good token, never 500) and writes nothing half-way; it recovers when the store comes back.
import t from 'tap'
import { ADMIN_TOKEN, startAdmin, testConfig } from '../helpers/admin.ts'
import { startOidcIssuer } from '../helpers/oidc.ts'
import { redisStore, testRedis } from '../helpers/stores.ts'

t.test('a hung redis: 503 + Retry-After on every store-backed route, then recovery', async t => {
  const idp = await startOidcIssuer()
  t.teardown(() => idp.close())
  const redis = await testRedis(t)
  const store = await redisStore(t, redis, { commandTimeoutMs: 150 })
  const h = await startAdmin(t, { store, config: testConfig({}, idp) })
  const user = await h.service.createUser({ email: 'u@example.com' })
  const key = (await h.service.createKey(user.id, { name: 'k', mcpServerIds: ['alpha'] })).record
  const oidcToken = await idp.sign({ email: 'u@example.com' })

  redis.pause()
  let resumed = false
  t.teardown(() => { if (!resumed) redis.resume() })

  const calls: Array<[string, string, string, unknown?]> = [
    ['GET', '/readyz', ''],
    ['GET', '/api/users', ADMIN_TOKEN],
    ['POST', '/api/users', ADMIN_TOKEN, { email: 'new@example.com' }],
    ['POST', `/api/users/${user.id}/api-keys`, ADMIN_TOKEN, { name: 'n', mcpServerIds: ['alpha'] }],
    ['PATCH', `/api/users/${user.id}`, ADMIN_TOKEN, { disabled: true }],
    ['DELETE', `/api/admin-api-keys/${key.id}`, ADMIN_TOKEN],
    ['DELETE', `/api/users/${user.id}`, ADMIN_TOKEN],
    // A valid JWT whose user cannot be looked up: unavailable, not unauthenticated.
    ['GET', '/api/me', oidcToken]
  ]
  for (const [method, url, token, body] of calls) {
    const res = await h.request({ method: method as 'GET', url, ...(token === '' ? {} : { token }), ...(body === undefined ? {} : { body }) })
    t.equal(res.statusCode, 503, `${method} ${url}`)
    t.equal(res.json().code, 'MCPGATE_STORE_UNAVAILABLE', `${method} ${url}: code`)
    t.equal(res.headers['retry-after'], '5', `${method} ${url}: Retry-After`)
  }
  const me = await h.request({ method: 'GET', url: '/api/me', token: ADMIN_TOKEN })
  t.equal(me.statusCode, 200, 'the bootstrap token needs no store')
  t.equal((await h.request({ method: 'GET', url: '/healthz' })).statusCode, 200, 'liveness does not depend on the store')

  redis.resume()
  resumed = true
  t.equal((await h.request({ method: 'GET', url: '/readyz' })).statusCode, 200, 'ready again')
  t.same(await store.getUser(user.id), await h.store.getUser(user.id))
  t.equal((await store.getUser(user.id))?.disabled, false, 'the refused PATCH changed nothing')
  t.not(await store.getKey(key.id), null, 'the refused DELETE left the key')
  t.equal(await store.countKeys(user.id), 1, 'the refused create added no key')
  t.equal(await store.getUserByEmail('new@example.com'), null, 'the refused user create added no user')
  t.equal((await h.request({ method: 'GET', url: '/api/me', token: oidcToken })).statusCode, 200, 'OIDC sign-in works again')
  t.ok(h.logs.some(l => l.level === 50 && /admin request failed/.test(l.msg)), '5xx are logged as errors')
})
