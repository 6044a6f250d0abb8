// The shipped example and demo configs are valid against the schema.
import { readFileSync } from 'node:fs'
import type { TSchema } from '@sinclair/typebox'
import t from 'tap'
import { parse } from 'yaml'
import { loadConfigFile } from '../../config/load.ts'
import { ConfigSchema } from '../../config/schema.ts'

t.test('config/mcpgate.example.yaml is valid', async t => {
  const c = loadConfigFile(new URL('../../config/mcpgate.example.yaml', import.meta.url).pathname, { GITHUB_MCP_TOKEN: 'x' })
  t.equal(c.servers[0]?.id, 'github')
  t.same(c.servers[0]?.headers, { Authorization: 'Bearer x' })
})

t.test('config/demo.yaml is valid', async t => {
  const c = loadConfigFile(new URL('../../config/demo.yaml', import.meta.url).pathname, {})
  t.equal(c.store.type, 'sqlite')
  t.equal(c.servers[0]?.id, 'demo')
})

t.test('config/compose.yaml (docker-compose) is valid', async t => {
  const c = loadConfigFile(new URL('../../config/compose.yaml', import.meta.url).pathname, {})
  t.equal(c.store.type, 'redis')
  t.equal(c.gateway.host, '0.0.0.0')
})

/** Dotted paths of every field the schema declares (arrays: their items' fields, under `[]`). */
function schemaPaths (schema: TSchema, prefix: string): string[] {
  const out: string[] = []
  const s = schema as TSchema & { properties?: Record<string, TSchema>, items?: TSchema, anyOf?: TSchema[] }
  if (s.properties !== undefined) {
    for (const [name, sub] of Object.entries(s.properties)) {
      const path = prefix === '' ? name : `${prefix}.${name}`
      out.push(path, ...schemaPaths(sub, path))
    }
  }
  if (s.items !== undefined) out.push(...schemaPaths(s.items, `${prefix}[]`))
  // `access` is 'everyone' or an object: its object fields are documented by the comment beside it.
  return out
}

/** True when `path` exists in `doc`; under an array, in any of its elements. */
function has (doc: unknown, path: string): boolean {
  if (path === '') return true
  const [part = '', ...rest] = path.split('.')
  const arr = part.endsWith('[]')
  const name = arr ? part.slice(0, -2) : part
  if (doc === null || typeof doc !== 'object' || !(name in doc)) return false
  const cur = (doc as Record<string, unknown>)[name]
  if (!arr) return has(cur, rest.join('.'))
  return Array.isArray(cur) && cur.some(item => has(item, rest.join('.')))
}

t.test('config/mcpgate.example.yaml lists every field of the schema (commented-out ones count)', async t => {
  const text = readFileSync(new URL('../../config/mcpgate.example.yaml', import.meta.url), 'utf8')
  // Uncomment `# field: value` lines (the first "# " after the indentation), keep prose comments.
  const uncommented = text.split('\n').map(line => /^\s*#\s+([A-Za-z]+:|- )/.test(line) ? line.replace('# ', '') : line).join('\n')
  const doc = parse(uncommented) as unknown
  for (const path of schemaPaths(ConfigSchema, '')) t.ok(has(doc, path), `${path} is in the example`)
})
