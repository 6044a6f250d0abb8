// The audit trail over REST, end to end on both stores: calls through the gateway with two users'
// keys, then GET /api/audit-events — admins see every event and filter and page it; a user sees
// their own keys' events only, whatever keyId or userId they ask for (BOLA) — and a key's usage:
// the owner's and an admin's, another user's key answering 404 like a missing one.
import t, { type Test } from 'tap'
import { ADMIN_TOKEN, startStack } from '../helpers/admin.ts'
import { connectStreamable } from '../helpers/gateway.ts'

async function trail (t: Test, kind: 'sqlite' | 'redis') {
  const { idp, admin, gateway } = await startStack(t, kind)
  const ada = await idp.sign({ email: 'ada@example.com', name: 'Ada' }, { expiresIn: 3600 })
  const bob = await idp.sign({ email: 'bob@example.com', name: 'Bob' }, { expiresIn: 3600 })
  const create = async (token: string) => (await admin.request({ method: 'POST', url: '/api/api-keys', token, body: { name: 'k', mcpServerIds: ['alpha'] } })).json() as { id: string, key: string, userId: string }
  const adaKey = await create(ada)
  const bobKey = await create(bob)
  for (const [k, n] of [[adaKey, 3], [bobKey, 2]] as const) {
    const { client } = await connectStreamable(t, gateway.mcpUrl('alpha'), k.key)
    for (let i = 0; i < n; i++) await client.callTool({ name: 'echo', arguments: { text: `call ${i}` } })
  }
  await gateway.app.mcpgate.audit?.flush()

  const get = async (token: string, url: string) => {
    const res = await admin.request({ method: 'GET', url, token })
    return { status: res.statusCode, body: res.json() }
  }
  const events = async (token: string, query = '') => (await get(token, `/api/audit-events?limit=100${query}`)).body as { items: Array<{ keyId: string | null, userId: string | null, method: string, name?: string, outcome: string, time: string }>, nextCursor: string | null }

  const all = await events(ADMIN_TOKEN)
  const calls = all.items.filter(e => e.method === 'tools/call')
  t.equal(calls.length, 5, 'admin: every call')
  t.ok(calls.every(e => e.name === 'echo' && e.outcome === 'allowed' && /Z$/.test(e.time)), 'method, name, outcome, RFC 3339 time')
  t.same(new Set(all.items.map(e => e.keyId)), new Set([adaKey.id, bobKey.id]), 'both keys')
  t.equal((await events(ADMIN_TOKEN, `&keyId=${bobKey.id}&name=echo`)).items.length, 2, 'admin: filtered by key and name')
  t.equal((await events(ADMIN_TOKEN, `&userId=${adaKey.userId}&outcome=allowed`)).items.filter(e => e.method === 'tools/call').length, 3, 'admin: by user and outcome')
  t.equal((await events(ADMIN_TOKEN, `&since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).items.length, 0, 'admin: by time')

  // Pages: two at a time, newest first, nothing lost or repeated.
  const seen: string[] = []
  let cursor: string | null = null
  for (let i = 0; i < 100; i++) {
    const page = (await get(ADMIN_TOKEN, `/api/audit-events?limit=2${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`)).body as { items: Array<{ id: string }>, nextCursor: string | null }
    seen.push(...page.items.map(e => e.id))
    cursor = page.nextCursor
    if (cursor === null) break
  }
  t.same(seen, all.items.map(e => (e as unknown as { id: string }).id), 'paged: the same events in the same order')

  const own = await events(ada)
  t.ok(own.items.length > 0 && own.items.every(e => e.keyId === adaKey.id), 'a user: their own key\'s events only')
  t.same((await events(ada, `&keyId=${bobKey.id}`)).items, [], 'another user\'s key: nothing')
  t.same((await events(ada, `&userId=${bobKey.userId}`)).items, [], 'another user: nothing')

  const usage = await get(ada, `/api/api-keys/${adaKey.id}/usage`)
  t.equal(usage.status, 200)
  t.equal(usage.body.daily.reduce((n: number, d: { calls: number }) => n + d.calls, 0), own.items.length, 'usage counts every event of the key')
  t.same(usage.body.topTools, [{ name: 'echo', calls: 3 }])
  t.equal(usage.body.lastUsed.ip, '127.0.0.1')
  t.equal(usage.body.hourly.length, 30 * 24 + 1, 'hourly buckets over 30 days')
  t.equal((await get(ada, `/api/api-keys/${bobKey.id}/usage`)).status, 404, 'another user\'s key: 404, as a missing one')
  t.equal((await get(ada, `/api/admin-api-keys/${bobKey.id}/usage`)).status, 403, 'the admin route: admins only')
  t.same((await get(ADMIN_TOKEN, `/api/admin-api-keys/${bobKey.id}/usage`)).body.topTools, [{ name: 'echo', calls: 2 }], 'an admin: any key')
  t.equal((await get(ada, '/api/audit-events?since=yesterday')).status, 400, 'a bad time: 400')
}

t.test('SQLite', async t => trail(t, 'sqlite'))
t.test('Redis', async t => trail(t, 'redis'))
