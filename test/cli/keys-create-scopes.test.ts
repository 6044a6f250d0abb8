// `mcpgate keys create` with per-tool scopes: --scopes takes the API's JSON, --tools/--prompts/
// --resources add lists (<server>:<a,b*>); the key stores what the API would, and every problem
// — bad JSON, a bad entry, a server the key does not name — is a usage error (exit 2) naming the
// flag, checked by the same rule as the API (core/tool-scope.ts parseKeyScopes + the key service).
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { main, type Io } from '../../cli/main.ts'
import { loadConfigFile } from '../../config/load.ts'
import { parseKey } from '../../core/key-format.ts'
import { openStore } from '../../core/store/open.ts'
import { tempDir } from '../helpers/stores.ts'

t.test('scopes from the command line', async t => {
  const dir = tempDir(t)
  const file = join(dir, 'mcpgate.yaml')
  writeFileSync(file, `store: { type: sqlite, path: ${join(dir, 'db.sqlite')} }\nhashing: { memoryCost: 1024, timeCost: 1 }\n` +
    'servers:\n  - id: github\n    url: http://127.0.0.1:9/mcp\n  - id: docs\n    url: http://127.0.0.1:9/sse\n  - id: vault\n    url: http://127.0.0.1:9/v\n    access: { roles: [admin] }\n')
  const run = async (...args: string[]) => {
    const lines: string[] = []
    const errs: string[] = []
    const io: Io = { out: l => lines.push(l), err: l => errs.push(l) }
    const code = await main(['keys', 'create', '--user', 'ada@example.com', '--name', 'k', ...args, '--config', file], {}, io)
    return { code, key: lines[0] ?? '', err: errs.join('\n') }
  }
  t.equal(await main(['users', 'create', '--email', 'ada@example.com', '--name', 'Ada', '--config', file], {}, { out: () => {}, err: () => {} }), 0)
  const store = openStore(loadConfigFile(file, {}).store)
  t.teardown(() => store.close())
  const stored = async (key: string) => {
    const parsed = parseKey(key)
    return parsed.ok ? (await store.getKey(parsed.key.keyId))?.scopes : 'unparsable'
  }

  const json = await run('--servers', 'github,docs', '--scopes', '{"github":{"tools":["search_*","get_issue"],"prompts":[]},"*":{"tools":["read_*"]}}')
  t.equal(json.code, 0, json.err)
  t.same(await stored(json.key), { github: { tools: ['search_*', 'get_issue'], prompts: [] }, '*': { tools: ['read_*'] } }, '--scopes: the API\'s JSON, stored as is')
  t.match(json.err, 'scopes {"github":{"tools":["search_*","get_issue"],"prompts":[]},"*":{"tools":["read_*"]}}', 'the created line shows the scopes')

  const lists = await run('--servers', '*', '--tools', 'github:search_*, get_issue', '--tools', 'github:list_commits', '--prompts', 'github:', '--resources', 'docs:repo://docs/*')
  t.equal(lists.code, 0, lists.err)
  t.same(await stored(lists.key), { github: { tools: ['search_*', 'get_issue', 'list_commits'], prompts: [] }, docs: { resources: ['repo://docs/*'] } },
    'the list flags: repeatable, comma-separated, nothing after the colon = none')

  const both = await run('--servers', 'github', '--scopes', '{"*":{"prompts":["summarize"]}}', '--tools', 'github:get_*')
  t.same(await stored(both.key), { '*': { prompts: ['summarize'] }, github: { tools: ['get_*'] } }, '--scopes and list flags together')
  t.equal(await stored((await run('--servers', 'github')).key), undefined, 'no flags: no scopes')

  const usage: Array<[string[], RegExp]> = [
    [['--servers', 'github', '--scopes', '{github'], /^mcpgate: --scopes: not JSON \(/],
    [['--servers', 'github', '--scopes', '[]'], /^mcpgate: --scopes: scopes: must be an object/],
    [['--servers', 'github', '--scopes', '{"github":{"tools":["a",""]}}'], /^mcpgate: --scopes: scopes\.github\.tools\[1\]: must not be empty/],
    [['--servers', 'github', '--scopes', '{"github":{"tool":[]}}'], /^mcpgate: --scopes: scopes\.github\.tool: unknown field/],
    [['--servers', 'github', '--tools', 'github:ok,a**'], /^mcpgate: --tools: scopes\.github\.tools\[1\]: uses "\*\*"/],
    [['--servers', 'github', '--prompts', 'summarize'], /^mcpgate: --prompts: "summarize" must be <server id or \*>:/],
    [['--servers', 'github', '--tools', '__proto__:x'], /^mcpgate: --tools: "__proto__" is not an MCP server id or "\*"/],
    [['--servers', 'github', '--scopes', '{"github":{"tools":[]}}', '--tools', 'github:x'], /^mcpgate: --tools: the tools of "github" are in --scopes already/],
    [['--servers', 'github', '--tools', 'docs:x'], /^mcpgate: --tools: scopes\.docs: not one of the key's mcpServerIds \(github\)/],
    [['--servers', '*', '--resources', 'vault:x'], /^mcpgate: --resources: scopes\.vault: MCP server "vault" not found/],
    [['--servers', 'github', '--scopes', '{"nope":{}}'], /^mcpgate: --scopes: scopes\.nope: MCP server "nope" not found/]
  ]
  for (const [args, message] of usage) {
    const r = await run(...args)
    t.equal(r.code, 2, `${args.slice(2).join(' ')}: exit 2`)
    t.match(r.err, message, `${args.slice(2).join(' ')}: names the flag`)
  }
  t.equal(Object.getPrototypeOf({}).tools, undefined, 'nothing reached Object.prototype')
  t.equal(await store.countKeys((await store.getUserByEmail('ada@example.com'))?.id ?? ''), 4, 'only the four good keys were stored')
})
