// Per-tool scopes (DESIGN: "Per-tool scopes"), through real SDK clients on both transports to a
// server with twelve tools, five prompts, six resources and three templates: a key allowed
// `search_*` and `get_issue` sees only those in tools/list, a call of any other tool is answered
// -32602 "Unknown tool: <name>" and never reaches the upstream; prompts and resources likewise;
// the owner's policies narrow the key further; a key without scopes sees and may call everything.
import t, { type Test } from 'tap'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js'
import { connectSse, connectStreamable, createTestKey, createTestUser, startGateway, testConfig, type TestServer } from '../helpers/gateway.ts'
import { PROMPTS, RESOURCES, startCatalogUpstream, TEMPLATES, TOOLS } from '../helpers/mcp-catalog-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

const SCOPES = { catalog: { tools: ['search_*', 'get_issue'], prompts: ['summarize'], resources: ['repo://docs/*'] }, legacy: { tools: ['search_*', 'get_issue'], prompts: ['summarize'], resources: ['repo://docs/*'] } }

async function setup (t: Test, policies?: TestServer['policies']) {
  const upstream = await startCatalogUpstream(t)
  const store = await sqliteStore(t)
  const gw = await startGateway(t, {
    store,
    config: testConfig({ gateway: { shutdownGraceMs: 100 }, servers: [{ id: 'catalog', url: upstream.mcpUrl, policies }, { id: 'legacy', url: upstream.sseUrl, policies }] })
  })
  return { upstream, store, gw }
}

/** The JSON-RPC error a call was refused with. */
async function refusal (call: Promise<unknown>): Promise<{ code: number, message: string }> {
  try {
    await call
  } catch (err) {
    const e = err as { code?: number, message: string }
    return { code: e.code ?? 0, message: e.message }
  }
  throw new Error('the call was not refused')
}

async function checkScoped (t: Test, client: Client, ran: string[]): Promise<void> {
  t.same((await client.listTools()).tools.map(x => x.name).sort(), ['get_issue', 'search_code', 'search_issues'], 'tools/list: only the allowed tools')
  t.same((await client.callTool({ name: 'search_code', arguments: {} })).content, [{ type: 'text', text: 'search_code ran' }], 'an allowed tool runs')
  for (const hidden of ['delete_repo', 'get_repo', 'run_workflow']) {
    const r = await refusal(client.callTool({ name: hidden, arguments: {} }))
    t.equal(r.code, -32602, `${hidden}: -32602`)
    t.match(r.message, `Unknown tool: ${hidden}`, `${hidden}: the answer for a tool that does not exist`)
  }
  t.same((await client.listPrompts()).prompts.map(p => p.name), ['summarize'], 'prompts/list filtered')
  t.match(await refusal(client.getPrompt({ name: 'secret_prompt' })), { code: -32602, message: /Unknown prompt: secret_prompt/ })
  t.same((await client.listResources()).resources.map(r => r.uri).sort(), ['repo://docs/api', 'repo://docs/guide', 'repo://docs/readme'], 'resources/list filtered (URI glob)')
  t.same((await client.listResourceTemplates()).resourceTemplates.map(r => r.uriTemplate), ['repo://docs/{page}'], 'resources/templates/list filtered')
  t.match(await refusal(client.readResource({ uri: 'repo://secrets/token' })), { code: -32602, message: /Unknown resource: repo:\/\/secrets\/token/ })
  t.equal(((await client.readResource({ uri: 'repo://docs/guide' })).contents[0] as { text?: string } | undefined)?.text, 'content of repo://docs/guide', 'an allowed resource reads')
  t.same(ran.filter(n => /delete_repo|get_repo|run_workflow|secret_prompt|secrets/.test(n)), [], 'no refused call reached the upstream')
}

t.test('a scoped key over Streamable HTTP', async t => {
  const { upstream, store, gw } = await setup(t)
  const key = await createTestKey(store, { scopes: SCOPES })
  const { client } = await connectStreamable(t, gw.mcpUrl('catalog'), key.key)
  await checkScoped(t, client, upstream.ran)
})

t.test('a scoped key over legacy HTTP+SSE (answers on the GET stream)', async t => {
  const { upstream, store, gw } = await setup(t)
  const key = await createTestKey(store, { scopes: SCOPES })
  const { client } = await connectSse(t, gw.mcpUrl('legacy'), key.key)
  await checkScoped(t, client, upstream.ran)
})

t.test('a key without scopes sees and may use everything', async t => {
  const { store, gw } = await setup(t)
  const key = await createTestKey(store)
  const { client } = await connectStreamable(t, gw.mcpUrl('catalog'), key.key)
  t.same((await client.listTools()).tools.map(x => x.name).sort(), [...TOOLS].sort())
  t.same((await client.listPrompts()).prompts.map(p => p.name).sort(), [...PROMPTS].sort())
  t.same((await client.listResources()).resources.map(r => r.uri).sort(), [...RESOURCES].sort())
  t.same((await client.listResourceTemplates()).resourceTemplates.map(r => r.uriTemplate).sort(), [...TEMPLATES].sort())
  t.same((await client.callTool({ name: 'delete_repo', arguments: {} })).content, [{ type: 'text', text: 'delete_repo ran' }])
})

t.test('"*" applies to servers without their own rule; a server\'s own rule wins', async t => {
  const { store, gw } = await setup(t)
  const key = await createTestKey(store, { scopes: { '*': { tools: ['get_*'] }, legacy: { tools: [] } } })
  const { client } = await connectStreamable(t, gw.mcpUrl('catalog'), key.key)
  t.same((await client.listTools()).tools.map(x => x.name).sort(), ['get_issue', 'get_repo'], '"*": get_* on catalog')
  t.equal((await client.listPrompts()).prompts.length, PROMPTS.length, 'an absent list allows all')
  const legacy = await connectSse(t, gw.mcpUrl('legacy'), key.key)
  t.same((await legacy.client.listTools()).tools, [], 'legacy\'s own rule: [] allows none')
})

t.test('the owner\'s policies ∩ the key\'s rule', async t => {
  const { store, gw } = await setup(t, [
    { groups: ['support'], tools: ['search_*', 'get_issue', 'get_repo'], prompts: [] },
    { groups: ['writers'], tools: ['create_issue'] },
    { roles: ['admin'] }
  ])
  const support = await createTestUser(store, { groups: ['support'] })
  const both = await createTestUser(store, { groups: ['support', 'writers'] })
  const admin = await createTestUser(store, { role: 'admin' })
  const nobody = await createTestUser(store, { groups: ['other'] })
  const tools = async (user: typeof support, scopes?: Record<string, { tools?: string[] }>): Promise<string[]> => {
    const key = await createTestKey(store, { user, ...(scopes === undefined ? {} : { scopes }) })
    const { client } = await connectStreamable(t, gw.mcpUrl('catalog'), key.key)
    return (await client.listTools()).tools.map(x => x.name).sort()
  }
  t.same(await tools(support), ['get_issue', 'get_repo', 'search_code', 'search_issues'], 'the support policy alone')
  t.same(await tools(support, { '*': { tools: ['get_*', 'delete_repo'] } }), ['get_issue', 'get_repo'], 'key ∩ policy: delete_repo stays out')
  t.same(await tools(both), ['create_issue', 'get_issue', 'get_repo', 'search_code', 'search_issues'], 'the union of the matching policies')
  t.same(await tools(admin), [...TOOLS].sort(), 'a matching policy without lists: everything')
  t.same(await tools(nobody), [], 'no matching policy: none')
})

t.test('notifications/tools/list_changed passes through; the re-list is filtered', async t => {
  const { upstream, store, gw } = await setup(t)
  const key = await createTestKey(store, { scopes: SCOPES })
  const { client } = await connectStreamable(t, gw.mcpUrl('catalog'), key.key)
  await client.listTools()
  const changed = new Promise<void>(resolve => client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()))
  upstream.addTool('search_wiki')
  upstream.addTool('drop_database')
  await changed
  t.pass('the client was told the list changed')
  t.same((await client.listTools()).tools.map(x => x.name).sort(), ['get_issue', 'search_code', 'search_issues', 'search_wiki'], 'the new search_ tool shows, the other does not')
})
