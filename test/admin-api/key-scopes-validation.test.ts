// Every rule on a new key's `scopes`, each with a failing and a passing case, on the admin route
// and the own route: an object mapping a server id or "*" to { tools?, resources?, prompts? }
// lists of names or globs; unknown fields refused; each entry checked (core/tool-scope.ts
// entryProblem); list and entry limits; a server id must be one of the key's servers (with ["*"],
// one the owner can reach). A 400 names the field (`scopes.alpha.tools[2]: …`) and stores nothing.
import t, { type Test } from 'tap'
import { ServerId } from '../../config/schema.ts'
import { MAX_SCOPE_ENTRIES, MAX_SCOPE_ENTRY_LENGTH, SERVER_ID_PATTERN } from '../../core/tool-scope.ts'
import { ADMIN_TOKEN, startAdmin, testConfig, type AdminHarness } from '../helpers/admin.ts'
import { startOidcIssuer } from '../helpers/oidc.ts'

const servers = [
  { id: 'alpha', url: 'http://127.0.0.1:9/mcp' },
  { id: 'delta', url: 'http://127.0.0.1:9/delta/mcp' },
  { id: 'beta', url: 'http://127.0.0.1:9/beta/mcp', access: { groups: ['beta-team'] } }
]

async function withUser (t: Test): Promise<{ h: AdminHarness, url: string, userId: string }> {
  const h = await startAdmin(t, { config: testConfig({ servers }) })
  const user = await h.service.createUser({ email: 'dev@example.com', name: 'Dev' })
  return { h, url: `/api/users/${user.id}/api-keys`, userId: user.id }
}

const post = (h: AdminHarness, url: string, body: unknown) => h.request({ method: 'POST', url, token: ADMIN_TOKEN, body })

async function fails (t: Test, h: AdminHarness, url: string, body: unknown, message: RegExp, label: string) {
  const res = await post(h, url, { name: 'k', mcpServerIds: ['alpha'], ...body as object })
  t.equal(res.statusCode, 400, `${label}: 400`)
  t.equal(res.json().code, 'MCPGATE_VALIDATION_FAILED', `${label}: code`)
  t.match(res.json().message, message, `${label}: ${res.json().message}`)
}

async function passes (t: Test, h: AdminHarness, url: string, body: unknown, label: string) {
  const res = await post(h, url, { name: 'k', mcpServerIds: ['alpha'], ...body as object })
  t.equal(res.statusCode, 201, `${label}: 201 ${res.statusCode === 201 ? '' : res.body}`)
  return res.json()
}

t.test('the server id rule is the config\'s', async t => {
  t.equal(SERVER_ID_PATTERN, ServerId.pattern)
})

t.test('shape: an object of rules with tools, resources and prompts lists', async t => {
  const { h, url, userId } = await withUser(t)
  await fails(t, h, url, { scopes: [] }, /^scopes: /, 'a list')
  await fails(t, h, url, { scopes: 'alpha' }, /^scopes: /, 'a string')
  await fails(t, h, url, { scopes: { alpha: ['search'] } }, /^scopes\.alpha: /, 'a rule that is a list')
  await fails(t, h, url, { scopes: { alpha: { tool: ['x'] } } }, /^scopes\.alpha\.tool: unknown field$/, 'an unknown field in a rule')
  await fails(t, h, url, { scopes: { alpha: { tools: 'search_*' } } }, /^scopes\.alpha\.tools: /, 'a list that is a string')
  await fails(t, h, url, { scopes: { 'Not An Id': { tools: [] } } }, /^scopes: "Not An Id" is not an MCP server id or "\*"$/, 'a key that is no server id')
  t.equal(await h.store.countKeys(userId), 0, 'nothing stored')

  const created = await passes(t, h, url, { scopes: { alpha: { tools: ['search_*', 'get_issue', 'search_*'], prompts: [] } } }, 'tools and no prompts')
  t.same(created.scopes, { alpha: { tools: ['search_*', 'get_issue'], prompts: [] } }, 'stored as sent, lists deduplicated')
  t.same((await h.store.getKey(created.id))?.scopes, created.scopes, 'in the store')
  t.same((await passes(t, h, url, { scopes: { alpha: {} } }, 'an empty rule')).scopes, { alpha: {} }, 'an empty rule stays (it outranks "*")')
  t.notOk('scopes' in await passes(t, h, url, { scopes: {} }, 'no rules'), '{} is no rule: absent')
  t.notOk('scopes' in await passes(t, h, url, {}, 'absent'), 'absent stays absent')
})

t.test('entries: names or globs, not empty, bounded, no control characters, no **', async t => {
  const { h, url, userId } = await withUser(t)
  await fails(t, h, url, { scopes: { alpha: { tools: ['a', 'b', ''] } } }, /^scopes\.alpha\.tools\[2\]: /, 'an empty entry')
  await fails(t, h, url, { scopes: { alpha: { tools: [7] } } }, /^scopes\.alpha\.tools\[0\]: /, 'a number')
  await fails(t, h, url, { scopes: { alpha: { prompts: ['x'.repeat(MAX_SCOPE_ENTRY_LENGTH + 1)] } } }, /^scopes\.alpha\.prompts\[0\]: /, 'an entry too long')
  await fails(t, h, url, { scopes: { alpha: { tools: ['ok', 'bell\u0007'] } } }, /^scopes\.alpha\.tools\[1\]: must not contain control characters$/, 'a control character')
  await fails(t, h, url, { scopes: { alpha: { resources: ['repo://**'] } } }, /^scopes\.alpha\.resources\[0\]: uses "\*\*"/, '**')
  const many = Array.from({ length: MAX_SCOPE_ENTRIES + 1 }, (_, i) => `t${i}`)
  await fails(t, h, url, { scopes: { alpha: { tools: many } } }, /^scopes\.alpha\.tools: /, `${MAX_SCOPE_ENTRIES + 1} entries`)
  t.equal(await h.store.countKeys(userId), 0, 'nothing stored')

  const longest = 'r'.repeat(MAX_SCOPE_ENTRY_LENGTH)
  const ok = await passes(t, h, url, { scopes: { alpha: { tools: many.slice(1), resources: [longest, 'repo://docs/*'] } } }, 'the limits themselves')
  t.equal(ok.scopes.alpha.tools.length, MAX_SCOPE_ENTRIES)
  t.same(ok.scopes.alpha.resources, [longest, 'repo://docs/*'])
})

t.test('server ids: the key\'s servers, or with ["*"] any the owner can reach; "*" always', async t => {
  const { h, url, userId } = await withUser(t)
  await fails(t, h, url, { scopes: { nope: { tools: [] } } }, /^scopes\.nope: MCP server "nope" not found$/, 'a server that does not exist')
  await fails(t, h, url, { mcpServerIds: ['*'], scopes: { beta: { tools: [] } } }, /^scopes\.beta: MCP server "beta" not found$/, 'a server the owner cannot reach: as missing')
  await fails(t, h, url, { scopes: { delta: { tools: [] } } }, /^scopes\.delta: not one of the key's mcpServerIds \(alpha\)/, 'a reachable server the key does not name')
  t.equal(await h.store.countKeys(userId), 0, 'nothing stored')

  t.same((await passes(t, h, url, { mcpServerIds: ['alpha', 'delta'], scopes: { delta: { tools: ['read_*'] }, '*': { tools: [] } } }, 'a server of the key and "*"')).scopes,
    { delta: { tools: ['read_*'] }, '*': { tools: [] } })
  t.same((await passes(t, h, url, { mcpServerIds: ['*'], scopes: { delta: { prompts: ['x'] } } }, '["*"]: any reachable server')).scopes, { delta: { prompts: ['x'] } })
})

t.test('the own route applies the same rules', async t => {
  const idp = await startOidcIssuer()
  t.teardown(() => idp.close())
  const h = await startAdmin(t, { config: testConfig({ servers }, idp) })
  const token = await idp.sign({ email: 'me@example.com' })
  const own = (body: unknown) => h.request({ method: 'POST', url: '/api/api-keys', token, body: { name: 'mine', mcpServerIds: ['alpha'], ...body as object } })
  const bad = await own({ scopes: { alpha: { tools: ['fine', ''] } } })
  t.equal(bad.statusCode, 400)
  t.match(bad.json().message, /^scopes\.alpha\.tools\[1\]: /)
  const good = await own({ scopes: { alpha: { tools: ['search_*'] } } })
  t.equal(good.statusCode, 201)
  t.same(good.json().scopes, { alpha: { tools: ['search_*'] } })
})
