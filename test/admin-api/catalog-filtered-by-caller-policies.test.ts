// The catalog shows each caller only what their own permissions on the server allow: the union of
// the server's policies that match them (config servers[].policies), by group, user or role, one
// upstream listing for all of them. A user no policy matches sees nothing; the bootstrap admin
// token (no user) sees everything.
import t from 'tap'
import { ADMIN_GROUP, ADMIN_TOKEN, startAdmin, testConfig } from '../helpers/admin.ts'
import { PROMPTS, RESOURCES, startCatalogUpstream, TEMPLATES, TOOLS } from '../helpers/mcp-catalog-upstream.ts'
import { startOidcIssuer } from '../helpers/oidc.ts'

interface Catalog {
  tools: Array<{ name: string }>
  prompts: Array<{ name: string }>
  resources: Array<{ uri: string }>
  resourceTemplates: Array<{ uriTemplate: string }>
}

t.test('every caller sees what their matching policies allow', async t => {
  const idp = await startOidcIssuer()
  t.teardown(() => idp.close())
  const upstream = await startCatalogUpstream(t)
  const policies = [
    { groups: ['support'], tools: ['search_*', 'get_*'], prompts: ['summarize'], resources: ['repo://docs/*'] },
    { groups: ['eng'], tools: ['*_issue'] },
    { users: ['rel@example.com'], tools: [], prompts: ['release_notes'], resources: [] },
    { roles: ['admin'] }
  ]
  const h = await startAdmin(t, { config: testConfig({ servers: [{ id: 'github', url: upstream.mcpUrl, policies }] }, idp) })
  const catalog = async (token: string): Promise<Catalog> => {
    const res = await h.request({ method: 'GET', url: '/api/mcp-servers/github/catalog', token })
    t.equal(res.statusCode, 200)
    return res.json() as Catalog
  }
  const names = (c: Catalog) => ({
    tools: c.tools.map(x => x.name),
    prompts: c.prompts.map(x => x.name),
    resources: c.resources.map(x => x.uri),
    resourceTemplates: c.resourceTemplates.map(x => x.uriTemplate)
  })
  const everything = { tools: TOOLS, prompts: PROMPTS, resources: RESOURCES, resourceTemplates: TEMPLATES }

  const support = await catalog(await idp.sign({ email: 'sue@example.com', groups: ['support'] }))
  t.same(names(support), {
    tools: ['search_issues', 'search_code', 'get_issue', 'get_repo'],
    prompts: ['summarize'],
    resources: ['repo://docs/readme', 'repo://docs/guide', 'repo://docs/api'],
    resourceTemplates: ['repo://docs/{page}']
  }, 'support: its policy, templates matched by their uriTemplate')
  t.same(support.tools[0], { name: 'search_issues', description: 'the search_issues tool' }, 'items keep their descriptions')

  const both = await catalog(await idp.sign({ email: 'bo@example.com', groups: ['support', 'eng'] }))
  t.same(names(both), {
    tools: ['search_issues', 'search_code', 'get_issue', 'get_repo', 'create_issue', 'update_issue'],
    prompts: PROMPTS,
    resources: RESOURCES,
    resourceTemplates: TEMPLATES
  }, 'support and eng: the union (eng names no prompts or resources: all of them)')

  const byEmail = await catalog(await idp.sign({ email: 'Rel@Example.com' }))
  t.same(names(byEmail), { tools: [], prompts: ['release_notes'], resources: [], resourceTemplates: [] }, 'a policy for one user, by email')

  const nobody = await catalog(await idp.sign({ email: 'new@example.com' }))
  t.same(names(nobody), { tools: [], prompts: [], resources: [], resourceTemplates: [] }, 'no policy matches: nothing')

  t.same(names(await catalog(await idp.sign({ email: 'adm@example.com', groups: [ADMIN_GROUP] }))), everything, 'an admin user: the admin policy, everything')
  t.same(names(await catalog(ADMIN_TOKEN)), everything, 'the bootstrap admin token: everything')
  t.equal(upstream.methods.filter(m => m === 'initialize').length, 1, 'one upstream listing served every caller')
})
