// Listings page with ?limit (1-100, default 50) and an opaque ?cursor: keys newest first (ties
// on createdAt broken by id, never skipped or repeated), users oldest first, admin listing
// filtered by ?userId.
import t from 'tap'
import { ManualClock } from '../../core/clock.ts'
import { ADMIN_TOKEN, startAdmin, testConfig, type AdminHarness } from '../helpers/admin.ts'

async function collect (h: AdminHarness, base: string, limit: number): Promise<{ ids: string[], pages: number }> {
  const ids: string[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const sep = base.includes('?') ? '&' : '?'
    const url = `${base}${sep}limit=${limit}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`
    const res = await h.request({ method: 'GET', url, token: ADMIN_TOKEN })
    if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body}`)
    const body = res.json()
    if (body.items.length > limit) throw new Error('page larger than limit')
    ids.push(...body.items.map((x: { id: string }) => x.id))
    cursor = body.nextCursor
    pages++
  } while (cursor !== null && pages < 100)
  return { ids, pages }
}

t.test('keys: newest first across pages, ties included, filter by user', async t => {
  const clock = new ManualClock(Date.parse('2026-03-01T00:00:00Z'))
  const h = await startAdmin(t, { clock, config: testConfig({ admin: { maxKeysPerUser: 100 } }) })
  const a = await h.service.createUser({ email: 'a@example.com' })
  const b = await h.service.createUser({ email: 'b@example.com' })
  const made: Array<{ id: string, userId: string, createdAt: string }> = []
  for (let i = 0; i < 56; i++) {
    // Pairs share a createdAt so the cursor must order by id within a millisecond.
    if (i % 2 === 0) clock.advance(1000)
    made.push((await h.service.createKey(i % 3 === 0 ? b.id : a.id, { name: `k${i}`, mcpServerIds: ['alpha'] })).record)
  }
  // Byte order for ids (as the stores compare them), not locale order.
  const desc = (x: string, y: string) => (x < y ? 1 : x > y ? -1 : 0)
  const newestFirst = [...made].sort((x, y) => desc(x.createdAt, y.createdAt) || desc(x.id, y.id)).map(k => k.id)

  const all = await collect(h, '/api/admin-api-keys', 5)
  t.same(all.ids, newestFirst, 'every key once, newest first')
  t.equal(all.pages, 12)

  const first = await h.request({ method: 'GET', url: '/api/admin-api-keys', token: ADMIN_TOKEN })
  t.equal(first.json().items.length, 50, 'default limit 50')
  t.type(first.json().nextCursor, 'string')
  const big = await h.request({ method: 'GET', url: '/api/admin-api-keys?limit=100', token: ADMIN_TOKEN })
  t.equal(big.json().items.length, 56)
  t.equal(big.json().nextCursor, null, 'null on the last page')

  const onlyB = await collect(h, `/api/admin-api-keys?userId=${b.id}`, 4)
  t.same(onlyB.ids, newestFirst.filter(id => made.find(k => k.id === id)?.userId === b.id), '?userId filters to one owner')
  const item = big.json().items.find((k: { userId: string }) => k.userId === b.id)
  t.same(item.user, { id: b.id, kind: 'human', email: 'b@example.com', name: 'b@example.com' }, 'each key carries its owner')
  const none = await h.request({ method: 'GET', url: '/api/admin-api-keys?userId=nosuchuser', token: ADMIN_TOKEN })
  t.same(none.json(), { items: [], nextCursor: null })
})

t.test('users: oldest first across pages', async t => {
  const clock = new ManualClock(Date.parse('2026-03-01T00:00:00Z'))
  const h = await startAdmin(t, { clock })
  const ids: string[] = []
  for (let i = 0; i < 7; i++) {
    clock.advance(10)
    ids.push((await h.service.createUser({ email: `u${i}@example.com` })).id)
  }
  t.same((await collect(h, '/api/users', 3)).ids, ids)
})
