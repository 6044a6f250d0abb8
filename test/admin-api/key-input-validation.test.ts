// Every rule on a new API key's input, each with a failing and a passing case: 400s name the
// field, unknown fields are rejected (not dropped), scope ids must exist and be reachable by the
// key's owner (not the caller), and the per-user key limit answers 409.
import t, { type Test } from 'tap'
import { ManualClock } from '../../core/clock.ts'
import { ADMIN_TOKEN, assertNoHashLeaked, startAdmin, testConfig, type AdminHarness } from '../helpers/admin.ts'

const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'))

async function withUser (t: Test, config = testConfig(), groups: string[] = []): Promise<{ h: AdminHarness, url: string, userId: string }> {
  const h = await startAdmin(t, { clock, config })
  const user = await h.service.createUser({ email: 'dev@example.com', name: 'Dev', groups })
  return { h, url: `/api/users/${user.id}/api-keys`, userId: user.id }
}

function post (h: AdminHarness, url: string, body: unknown) {
  return h.request({ method: 'POST', url, token: ADMIN_TOKEN, body })
}

async function fails (t: Test, h: AdminHarness, url: string, body: unknown, field: RegExp, label: string, code = 'MCPGATE_VALIDATION_FAILED') {
  const res = await post(h, url, body)
  t.equal(res.statusCode, 400, `${label}: 400`)
  t.equal(res.json().code, code, `${label}: ${code}`)
  t.match(res.json().message, field, `${label}: message names the field`)
}

async function passes (t: Test, h: AdminHarness, url: string, body: unknown, label: string) {
  const res = await post(h, url, body)
  t.equal(res.statusCode, 201, `${label}: 201`)
  return res.json()
}

t.test('name: trimmed, 1-100 characters, required, a string', async t => {
  const { h, url } = await withUser(t)
  await fails(t, h, url, { mcpServerIds: ['alpha'] }, /^name: is required/, 'missing')
  await fails(t, h, url, { name: '', mcpServerIds: ['alpha'] }, /^name:/, 'empty')
  await fails(t, h, url, { name: '    ', mcpServerIds: ['alpha'] }, /^name: must be 1-100 characters/, 'only spaces')
  await fails(t, h, url, { name: 'x'.repeat(101), mcpServerIds: ['alpha'] }, /^name:/, '101 characters')
  await fails(t, h, url, { name: 42, mcpServerIds: ['alpha'] }, /^name: must be string/, 'a number')
  t.equal((await passes(t, h, url, { name: 'x'.repeat(100), mcpServerIds: ['alpha'] }, '100 characters')).name, 'x'.repeat(100))
  t.equal((await passes(t, h, url, { name: '  laptop  ', mcpServerIds: ['alpha'] }, 'padded')).name, 'laptop', 'stored trimmed')
})

t.test('description: at most 500 characters, optional', async t => {
  const { h, url } = await withUser(t)
  await fails(t, h, url, { name: 'k', description: 'd'.repeat(501), mcpServerIds: ['alpha'] }, /^description:/, '501 characters')
  t.equal((await passes(t, h, url, { name: 'k', description: 'd'.repeat(500), mcpServerIds: ['alpha'] }, '500 characters')).description, 'd'.repeat(500))
  t.equal((await passes(t, h, url, { name: 'k', mcpServerIds: ['alpha'] }, 'absent')).description, '')
})

t.test('expiresAt: RFC 3339 with a zone, in the future, or null', async t => {
  const { h, url } = await withUser(t)
  const k = { name: 'k', mcpServerIds: ['alpha'] }
  await fails(t, h, url, { ...k, expiresAt: 'next tuesday' }, /^expiresAt:/, 'not a date')
  await fails(t, h, url, { ...k, expiresAt: '2026-06-01' }, /^expiresAt:/, 'a date without time')
  await fails(t, h, url, { ...k, expiresAt: '2026-06-01T00:00:00' }, /^expiresAt:/, 'no time zone')
  await fails(t, h, url, { ...k, expiresAt: 1780000000000 }, /^expiresAt:/, 'epoch number')
  await fails(t, h, url, { ...k, expiresAt: '2025-12-31T23:59:59Z' }, /^expiresAt: must be in the future/, 'in the past')
  await fails(t, h, url, { ...k, expiresAt: '2026-01-01T00:00:00Z' }, /^expiresAt: must be in the future/, 'exactly now')
  t.equal((await passes(t, h, url, { ...k, expiresAt: '2026-06-01T02:00:00+02:00' }, 'future with offset')).expiresAt, '2026-06-01T00:00:00.000Z', 'rendered in UTC')
  t.equal((await passes(t, h, url, { ...k, expiresAt: null }, 'null')).expiresAt, null)
  t.equal((await passes(t, h, url, k, 'absent')).expiresAt, null)
})

t.test('expiresAt with admin.maxKeyLifetimeDays: required and within the limit', async t => {
  const { h, url } = await withUser(t, testConfig({ admin: { maxKeyLifetimeDays: 30 } }))
  const k = { name: 'k', mcpServerIds: ['alpha'] }
  await fails(t, h, url, k, /^expiresAt: required: keys must expire within 30 days/, 'absent')
  await fails(t, h, url, { ...k, expiresAt: null }, /^expiresAt: required/, 'null')
  await fails(t, h, url, { ...k, expiresAt: '2026-01-31T00:00:01Z' }, /^expiresAt: must be within 30 days/, '30 days and a second')
  await passes(t, h, url, { ...k, expiresAt: '2026-01-31T00:00:00Z' }, 'exactly 30 days')
})

t.test('mcpServerIds: non-empty, deduplicated, "*" alone, existing and reachable by the owner', async t => {
  const { h, url } = await withUser(t)
  const k = { name: 'k' }
  await fails(t, h, url, k, /^mcpServerIds: is required/, 'missing')
  await fails(t, h, url, { ...k, mcpServerIds: [] }, /^mcpServerIds:/, 'empty')
  await fails(t, h, url, { ...k, mcpServerIds: 'alpha' }, /^mcpServerIds:/, 'a string, not a list')
  await fails(t, h, url, { ...k, mcpServerIds: [7] }, /^mcpServerIds\[0\]:/, 'a number inside')
  await fails(t, h, url, { ...k, mcpServerIds: ['*', 'alpha'] }, /^mcpServerIds: "\*" .* must be the only entry/, '"*" with another id')
  await fails(t, h, url, { ...k, mcpServerIds: ['nope'] }, /^MCP server "nope" not found$/, 'unknown id', 'MCPGATE_MCP_SERVER_NOT_FOUND')
  // beta needs group beta-team and gamma the admin role: the caller (admin token) could reach
  // gamma, but the owner cannot, and that is what counts. Same answer as a missing id.
  const missing = await post(h, url, { ...k, mcpServerIds: ['nope'] })
  const unreachable = await post(h, url, { ...k, mcpServerIds: ['gamma'] })
  t.equal(unreachable.statusCode, 400)
  t.same(unreachable.json(), { ...missing.json(), message: 'MCP server "gamma" not found' }, 'unreachable answers like missing')
  await fails(t, h, url, { ...k, mcpServerIds: ['alpha', 'beta'] }, /^MCP server "beta" not found$/, 'one unreachable among reachable', 'MCPGATE_MCP_SERVER_NOT_FOUND')
  t.same((await passes(t, h, url, { ...k, mcpServerIds: ['alpha', 'alpha'] }, 'duplicates')).mcpServerIds, ['alpha'], 'deduplicated')
  t.same((await passes(t, h, url, { ...k, mcpServerIds: ['*'] }, '"*" alone')).mcpServerIds, ['*'])
  t.equal(await h.store.countKeys((await h.service.getUserByEmail('dev@example.com')).id), 2, 'only the two valid keys were stored')
})

t.test('mcpServerIds: a server reachable through the owner\'s group is accepted', async t => {
  const { h, url } = await withUser(t, testConfig(), ['beta-team'])
  t.same((await passes(t, h, url, { name: 'k', mcpServerIds: ['beta', 'alpha'] }, 'group member')).mcpServerIds, ['beta', 'alpha'])
})

t.test('unknown fields are rejected, not silently dropped', async t => {
  const { h, url, userId } = await withUser(t)
  await fails(t, h, url, { name: 'k', mcpServerIds: ['alpha'], secretHash: 'x' }, /^secretHash: unknown field$/, 'body field')
  await fails(t, h, url, { name: 'k', mcpServerIds: ['alpha'], userId: 'someoneElse' }, /^userId: unknown field$/, 'userId in body')
  const q = await h.request({ method: 'GET', url: '/api/admin-api-keys?owner=x', token: ADMIN_TOKEN })
  t.equal(q.statusCode, 400)
  t.match(q.json().message, /^query owner: unknown field$/)
  t.equal(await h.store.countKeys(userId), 0, 'nothing stored')
})

t.test('pagination parameters: limit 1-100, cursor from the API', async t => {
  const { h } = await withUser(t)
  for (const limit of ['0', '101', 'abc', '-1']) {
    const res = await h.request({ method: 'GET', url: `/api/admin-api-keys?limit=${limit}`, token: ADMIN_TOKEN })
    t.equal(res.statusCode, 400, `limit=${limit}`)
    t.match(res.json().message, /^query limit:/)
  }
  const bad = await h.request({ method: 'GET', url: '/api/users?cursor=garbage', token: ADMIN_TOKEN })
  t.equal(bad.statusCode, 400)
  t.match(bad.json().message, /^cursor:/)
  for (const limit of ['1', '100']) {
    t.equal((await h.request({ method: 'GET', url: `/api/admin-api-keys?limit=${limit}`, token: ADMIN_TOKEN })).statusCode, 200, `limit=${limit}`)
  }
})

t.test('admin.maxKeysPerUser: the key over the limit is refused with 409', async t => {
  const { h, url, userId } = await withUser(t, testConfig({ admin: { maxKeysPerUser: 2 } }))
  const first = await passes(t, h, url, { name: 'one', mcpServerIds: ['alpha'] }, 'first')
  await passes(t, h, url, { name: 'two', mcpServerIds: ['alpha'] }, 'second')
  const third = await post(h, url, { name: 'three', mcpServerIds: ['alpha'] })
  t.equal(third.statusCode, 409)
  t.equal(third.json().code, 'MCPGATE_KEY_LIMIT_REACHED')
  t.equal(await h.store.countKeys(userId), 2)
  t.equal((await h.request({ method: 'DELETE', url: `/api/admin-api-keys/${first.id}`, token: ADMIN_TOKEN })).statusCode, 204)
  await passes(t, h, url, { name: 'three', mcpServerIds: ['alpha'] }, 'after deleting one')
  assertNoHashLeaked(t, h)
})

t.test('malformed JSON and wrong content type answer 4xx in the error format', async t => {
  const { h, url } = await withUser(t)
  const res = await h.request({ method: 'POST', url, token: ADMIN_TOKEN, body: '{"name":', headers: { 'content-type': 'application/json' } })
  t.equal(res.statusCode, 400)
  t.equal(res.json().code, 'MCPGATE_BAD_REQUEST')
  const text = await h.request({ method: 'POST', url, token: ADMIN_TOKEN, body: '<key/>', headers: { 'content-type': 'application/xml' } })
  t.equal(text.statusCode, 415)
  t.same(Object.keys(text.json()).sort(), ['code', 'error', 'message', 'statusCode'])
})
