// Removing admins concurrently through two admin API replicas on one store (two Redis
// connections; the server and another process on one SQLite file) always leaves one enabled
// admin: the check and the write are one atomic step in the store, so demotions, disablings and
// deletions of the last admins racing each other cannot all succeed.
import t, { type Test } from 'tap'
import type { KeyStore } from '../../core/store/store.ts'
import { ADMIN_TOKEN, startAdmin } from '../helpers/admin.ts'
import { startRedis } from '../helpers/redis-server.ts'
import { redisStore, sqliteStore } from '../helpers/stores.ts'

const ADMINS = 12

const redis = await startRedis()
t.teardown(() => redis.stop())
// The race is the point here, not latency: on a loaded machine a first request can stall the
// event loop past the production command timeout (250 ms) and turn a write into a 503.
const commandTimeoutMs = 5000

const kinds: Record<string, (t: Test) => Promise<[KeyStore, KeyStore]>> = {
  redis: async t => {
    const a = await redisStore(t, redis, { commandTimeoutMs })
    return [a, await redisStore(t, redis, { prefix: a.prefix, commandTimeoutMs })]
  },
  sqlite: async t => {
    const a = await sqliteStore(t)
    return [a, await sqliteStore(t, { path: a.path })]
  }
}

for (const [kind, open] of Object.entries(kinds)) {
  t.test(`${kind}: ${ADMINS} admins removed at once by two replicas leave exactly one`, async t => {
    const [storeA, storeB] = await open(t)
    const replicas = [await startAdmin(t, { store: storeA }), await startAdmin(t, { store: storeB })]
    const ids: string[] = []
    for (let i = 0; i < ADMINS; i++) {
      const res = await replicas[0]!.request({ method: 'POST', url: '/api/users', token: ADMIN_TOKEN, body: { email: `admin${i}@example.com`, role: 'admin' } })
      ids.push(res.json().id)
    }
    // Each admin goes one of three ways, from alternating replicas.
    const changes = ids.map((id, i) => {
      const h = replicas[i % 2]!
      const way = i % 3
      return way === 0
        ? h.request({ method: 'PATCH', url: `/api/users/${id}`, token: ADMIN_TOKEN, body: { role: 'user' } })
        : way === 1
          ? h.request({ method: 'PATCH', url: `/api/users/${id}`, token: ADMIN_TOKEN, body: { disabled: true } })
          : h.request({ method: 'DELETE', url: `/api/users/${id}`, token: ADMIN_TOKEN })
    })
    const results = await Promise.all(changes)
    const refused = results.filter(r => r.statusCode === 409)
    t.equal(results.filter(r => r.statusCode === 200 || r.statusCode === 204).length, ADMINS - 1, `${ADMINS - 1} go through`)
    t.equal(refused.length, 1, 'exactly one is refused')
    t.equal(refused[0]?.json().code, 'MCPGATE_LAST_ADMIN')

    const users = (await storeA.listUsers({ limit: 100 })).items
    const admins = users.filter(u => u.role === 'admin' && !u.disabled)
    t.equal(admins.length, 1, 'one enabled admin is left')
    t.equal(admins[0]?.id, ids[results.indexOf(refused[0]!)], 'the one whose removal was refused')
  })
}
