// A key's scopes are in every answer that shows the key — the create response, the owner's list
// and GET, the admin's list and GET — and absent from every one for a key without them; the
// OpenAPI document describes the field on the body and on the key. A key created with scopes
// through the API is what the gateway then enforces (one end to end with an SDK client).
import t from 'tap'
import { ADMIN_TOKEN, startAdmin, testConfig } from '../helpers/admin.ts'
import { connectStreamable, startGateway } from '../helpers/gateway.ts'
import { startCatalogUpstream } from '../helpers/mcp-catalog-upstream.ts'
import { startOidcIssuer } from '../helpers/oidc.ts'

t.test('scopes shown wherever the key is, absent when none', async t => {
  const idp = await startOidcIssuer()
  t.teardown(() => idp.close())
  const upstream = await startCatalogUpstream(t)
  const config = testConfig({ servers: [{ id: 'github', url: upstream.mcpUrl }, { id: 'docs', url: upstream.mcpUrl }] }, idp)
  const h = await startAdmin(t, { config })
  const token = await idp.sign({ email: 'ada@example.com' })
  const me = (await h.request({ method: 'GET', url: '/api/me', token })).json().user.id as string

  const scopes = { github: { tools: ['search_*', 'get_issue'], prompts: [] }, '*': { tools: ['read_*'] } }
  const own = await h.request({ method: 'POST', url: '/api/api-keys', token, body: { name: 'ci', mcpServerIds: ['github', 'docs'], scopes } })
  t.equal(own.statusCode, 201)
  t.same(own.json().scopes, scopes, 'the create response (own route)')
  const byAdmin = await h.request({ method: 'POST', url: `/api/users/${me}/api-keys`, token: ADMIN_TOKEN, body: { name: 'svc', mcpServerIds: ['*'], scopes: { docs: { resources: ['repo://docs/*'] } } } })
  t.same(byAdmin.json().scopes, { docs: { resources: ['repo://docs/*'] } }, 'the create response (admin route)')
  const plain = await h.request({ method: 'POST', url: '/api/api-keys', token, body: { name: 'plain', mcpServerIds: ['docs'] } })
  t.notOk('scopes' in plain.json(), 'a key without scopes: absent from the create response')

  const expected = new Map<string, unknown>([[own.json().id, scopes], [byAdmin.json().id, byAdmin.json().scopes], [plain.json().id, undefined]])
  const check = (label: string, key: { id: string, scopes?: unknown }) => {
    const want = expected.get(key.id)
    if (want === undefined) t.notOk('scopes' in key, `${label}: absent for the key without`)
    else t.same(key.scopes, want, `${label}: shown`)
  }
  for (const k of (await h.request({ method: 'GET', url: '/api/api-keys', token })).json().items) check('own list', k)
  for (const k of (await h.request({ method: 'GET', url: '/api/admin-api-keys', token: ADMIN_TOKEN })).json().items) check('admin list', k)
  for (const id of expected.keys()) {
    check('own GET', (await h.request({ method: 'GET', url: `/api/api-keys/${id}`, token })).json())
    check('admin GET', (await h.request({ method: 'GET', url: `/api/admin-api-keys/${id}`, token: ADMIN_TOKEN })).json())
  }

  const doc = (await h.request({ method: 'GET', url: '/openapi.json' })).json()
  const body = doc.paths['/api/api-keys'].post.requestBody.content['application/json'].schema
  t.equal(body.properties.scopes?.type, 'object', 'OpenAPI: scopes on the create body, a map of rules')
  const rule = body.properties.scopes.additionalProperties as { properties: Record<string, { maxItems: number }>, additionalProperties: boolean }
  t.same(Object.keys(rule.properties), ['tools', 'resources', 'prompts'])
  t.equal(rule.additionalProperties, false)
  t.equal(rule.properties.tools?.maxItems, 200)
  t.ok(doc.paths['/api/api-keys/{id}'].get.responses['200'].content['application/json'].schema.properties.scopes, 'OpenAPI: scopes on the key')

  // What the API stored is what the gateway enforces.
  const gateway = await startGateway(t, { store: h.store, config })
  const { client } = await connectStreamable(t, gateway.mcpUrl('github'), own.json().key)
  t.same((await client.listTools()).tools.map(x => x.name), ['search_issues', 'search_code', 'get_issue'], 'the gateway lists what the key\'s scopes allow')
  t.same((await client.listPrompts()).prompts, [], 'prompts: [] allows none')
  const { client: docs } = await connectStreamable(t, gateway.mcpUrl('docs'), own.json().key)
  t.same((await docs.listTools()).tools.map(x => x.name), ['read_file'], '"*" covers the key\'s other server')
})
