// admin.maxKeysPerUser holds under concurrent creates: 12 simultaneous POSTs over real HTTP for one
// user with a limit of 3 give exactly 3 × 201 and 9 × 409, on both stores. The service's early
// count alone lets them through (they count while the first ones still hash); the store's atomic
// count-and-insert is what refuses the rest.
import t, { type Test } from 'tap'
import { buildConfig } from '../../config/load.ts'
import type { KeyStore } from '../../core/store/store.ts'
import { ADMIN_TOKEN, startAdmin, TEST_SERVERS } from '../helpers/admin.ts'
import { startRedis } from '../helpers/redis-server.ts'
import { redisStore, sqliteStore } from '../helpers/stores.ts'

const MAX = 3
const POSTS = 12

// The default argon2 cost (~25 ms a hash), not the helpers' fast one: the race window of
// production. With a 1 ms hash on SQLite, early requests finished before later ones counted and
// the old check-then-write code passed this test.
const config = buildConfig({ admin: { token: ADMIN_TOKEN, maxKeysPerUser: MAX }, servers: TEST_SERVERS })

const redis = await startRedis()
t.teardown(() => redis.stop())

const kinds: Record<string, (t: Test) => Promise<KeyStore>> = {
  sqlite: t => sqliteStore(t),
  redis: t => redisStore(t, redis)
}

for (const [kind, open] of Object.entries(kinds)) {
  t.test(`${kind}: ${POSTS} concurrent POSTs with maxKeysPerUser ${MAX} → ${MAX} × 201, ${POSTS - MAX} × 409`, async t => {
    const h = await startAdmin(t, { store: await open(t), config })
    const base = await h.app.listen({ host: '127.0.0.1', port: 0 })
    const user = await h.service.createUser({ email: 'busy@example.com', name: 'Busy' })
    const headers = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }

    const responses = await Promise.all(Array.from({ length: POSTS }, async (_, i) => {
      const res = await fetch(`${base}/api/users/${user.id}/api-keys`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ name: `k${i}`, mcpServerIds: ['alpha'] })
      })
      return { status: res.status, body: await res.json() as { id?: string, code?: string } }
    }))

    const created = responses.filter(r => r.status === 201)
    const refused = responses.filter(r => r.status === 409)
    t.equal(created.length, MAX, `exactly ${MAX} × 201 (statuses: ${responses.map(r => r.status).join(' ')})`)
    t.equal(refused.length, POSTS - MAX, `${POSTS - MAX} × 409`)
    t.ok(refused.every(r => r.body.code === 'MCPGATE_KEY_LIMIT_REACHED'), 'every 409 is MCPGATE_KEY_LIMIT_REACHED')

    const list = await fetch(`${base}/api/admin-api-keys?userId=${user.id}`, { headers })
    t.equal(list.status, 200)
    const items = (await list.json() as { items: Array<{ id: string }> }).items
    t.equal(items.length, MAX, `listing shows ${MAX} keys`)
    t.same(items.map(k => k.id).sort(), created.map(r => r.body.id).sort(), 'exactly the keys whose POST answered 201')
    t.equal(await h.store.countKeys(user.id), MAX, 'and the store holds no more')
  })
}
