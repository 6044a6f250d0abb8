// Admin writes that change who may use a key publish exactly one invalidation event each — the
// store publishes it inside the write; the admin API does not publish again. Reads and key
// creation publish nothing. Checked on SQLite and Redis with a second store instance listening.
import t, { type Test } from 'tap'
import type { InvalidationEvent, KeyStore } from '../../core/store/store.ts'
import { ADMIN_TOKEN, startAdmin } from '../helpers/admin.ts'
import { redisStore, sqliteStore, tempDir, testRedis } from '../helpers/stores.ts'
import { join } from 'node:path'

/** Collects events up to a marker publish, so "no more events" is known without waiting. */
function listen (t: Test, store: KeyStore) {
  const events: InvalidationEvent[] = []
  let marker: (() => void) | null = null
  const stop = store.subscribe({
    onEvent: e => {
      if (e.type === 'all' && marker !== null) marker()
      else if (e.type !== 'all') events.push(e)
    },
    onResync: () => {}
  })
  t.teardown(stop)

  /** Resolves when a marker arrives; a ref'd deadline keeps the process alive meanwhile. */
  function nextMarker (ms: number): Promise<boolean> {
    return new Promise(resolve => {
      const deadline = setTimeout(() => { marker = null; resolve(false) }, ms)
      marker = () => { clearTimeout(deadline); marker = null; resolve(true) }
    })
  }

  return {
    /** Until the subscription delivers (a Redis SUBSCRIBE completes asynchronously). */
    async live (writer: KeyStore): Promise<void> {
      for (let i = 0; i < 100; i++) {
        const seen = nextMarker(50)
        await writer.publish({ type: 'all' })
        if (await seen) {
          events.splice(0)
          return
        }
      }
      throw new Error('subscription never delivered an event')
    },
    async settle (writer: KeyStore): Promise<InvalidationEvent[]> {
      const seen = nextMarker(10_000)
      await writer.publish({ type: 'all' })
      if (!await seen) throw new Error('marker event not delivered within 10 s')
      return events.splice(0)
    }
  }
}

async function scenario (t: Test, writer: KeyStore, reader: KeyStore) {
  const h = await startAdmin(t, { store: writer })
  const listener = listen(t, reader)
  await listener.live(writer)

  const user = (await h.request({ method: 'POST', url: '/api/users', token: ADMIN_TOKEN, body: { email: 'x@example.com' } })).json()
  const k1 = (await h.request({ method: 'POST', url: `/api/users/${user.id}/api-keys`, token: ADMIN_TOKEN, body: { name: 'a', mcpServerIds: ['alpha'] } })).json()
  await h.request({ method: 'POST', url: `/api/users/${user.id}/api-keys`, token: ADMIN_TOKEN, body: { name: 'b', mcpServerIds: ['*'] } })
  await h.request({ method: 'GET', url: '/api/admin-api-keys', token: ADMIN_TOKEN })
  t.same(await listener.settle(writer), [], 'creating users and keys and reading publish nothing')

  t.equal((await h.request({ method: 'DELETE', url: `/api/admin-api-keys/${k1.id}`, token: ADMIN_TOKEN })).statusCode, 204)
  t.same(await listener.settle(writer), [{ type: 'key', keyId: k1.id }], 'key delete: one key event')

  t.equal((await h.request({ method: 'PATCH', url: `/api/users/${user.id}`, token: ADMIN_TOKEN, body: { disabled: true } })).statusCode, 200)
  t.same(await listener.settle(writer), [{ type: 'user', userId: user.id }], 'user change: one user event')

  t.equal((await h.request({ method: 'DELETE', url: `/api/users/${user.id}`, token: ADMIN_TOKEN })).statusCode, 204)
  const deleted = await listener.settle(writer)
  t.equal(deleted.filter(e => e.type === 'user').length, 1, 'user delete: one user event')
  t.ok(deleted.every(e => e.type === 'user' || e.type === 'key'), 'and nothing else')
  t.equal(await writer.countKeys(user.id), 0, 'the user\'s keys are gone with them')
  t.equal((await h.request({ method: 'GET', url: `/api/admin-api-keys?userId=${user.id}`, token: ADMIN_TOKEN })).json().items.length, 0)

  t.equal((await h.request({ method: 'DELETE', url: `/api/users/${user.id}`, token: ADMIN_TOKEN })).statusCode, 404, 'deleting again: 404')
  t.same(await listener.settle(writer), [], 'a refused write publishes nothing')
}

t.test('SQLite: another store instance on the same file sees one event per write', async t => {
  const path = join(tempDir(t), 'shared.db')
  const writer = await sqliteStore(t, { path, pollMs: 5 })
  const reader = await sqliteStore(t, { path, pollMs: 5 })
  await scenario(t, writer, reader)
})

t.test('Redis: another store instance sees one event per write', async t => {
  const redis = await testRedis(t)
  const prefix = 'inv-test:'
  const writer = await redisStore(t, redis, { prefix })
  const reader = await redisStore(t, redis, { prefix })
  await scenario(t, writer, reader)
})
