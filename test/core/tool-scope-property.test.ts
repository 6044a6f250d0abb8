// Properties of per-tool scopes (fast-check), against a reference written the slow, obvious way:
// for arbitrary rules (key and owner, globs included) and arbitrary names, a name is allowed exactly
// when every list that applies matches it; the list filter never lets a disallowed entry through
// and never drops an allowed one; a request inspection never forwards a call the rule refuses.
import fc from 'fast-check'
import t from 'tap'
import { allows, effectiveRule, keyRuleFor, type ScopeRule } from '../../core/tool-scope.ts'
import { filterLists, inspectRequest } from '../../gateway/mcp-filter.ts'

/** Names over a small alphabet so globs and names collide often. */
const name = fc.stringMatching(/^[ab_.:/]{0,6}$/)
const entry = fc.stringMatching(/^[ab_.:/*]{1,5}$/).filter(e => !e.includes('**'))
const list = fc.option(fc.array(entry, { maxLength: 4 }), { nil: undefined })
const rule = fc.record({ tools: list, resources: list, prompts: list }, { requiredKeys: [] }).map(r => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)) as ScopeRule)

/** The reference: a glob matches when the name can be split around its stars, in order. */
function globMatches (glob: string, n: string): boolean {
  const parts = glob.split('*')
  if (parts.length === 1) return glob === n
  const first = parts[0] as string
  const last = parts[parts.length - 1] as string
  if (!n.startsWith(first) || !n.endsWith(last) || n.length < first.length + last.length) return false
  let at = first.length
  const end = n.length - last.length
  for (const middle of parts.slice(1, -1)) {
    const i = n.indexOf(middle, at)
    if (i < 0 || i + middle.length > end) return false
    at = i + middle.length
  }
  return true
}

function reference (key: ScopeRule | undefined, owner: ScopeRule | undefined, kind: keyof ScopeRule, n: string): boolean {
  for (const r of [key, owner]) {
    const l = r?.[kind]
    if (l !== undefined && !l.some(g => globMatches(g, n))) return false
  }
  return true
}

t.test('allows() agrees with the reference for any key rule, owner rule and name', async t => {
  fc.assert(fc.property(fc.option(rule, { nil: undefined }), fc.option(rule, { nil: undefined }), name, (key, owner, n) => {
    const effective = effectiveRule(key, owner)
    for (const kind of ['tools', 'resources', 'prompts'] as const) {
      const got = effective === null ? true : allows(effective, kind, n)
      if (got !== reference(key, owner, kind, n)) return false
    }
    return true
  }), { numRuns: 3000 })
  t.pass('3,000 random rules and names')
})

t.test('the list filter keeps exactly the allowed entries', async t => {
  fc.assert(fc.property(rule, fc.option(rule, { nil: undefined }), fc.array(name, { maxLength: 12 }), (key, owner, names) => {
    const effective = effectiveRule(key, owner)
    if (effective === null) return true
    const message = { jsonrpc: '2.0', id: 1, result: { tools: names.map(n => ({ name: n })), resources: names.map(n => ({ uri: n })), prompts: names.map(n => ({ name: n })), resourceTemplates: names.map(n => ({ uriTemplate: n })) } }
    filterLists(message, effective, false)
    const r = message.result
    const kept = (kind: keyof ScopeRule) => names.filter(n => reference(key, owner, kind, n))
    return JSON.stringify(r.tools.map(x => x.name)) === JSON.stringify(kept('tools')) &&
      JSON.stringify(r.prompts.map(x => x.name)) === JSON.stringify(kept('prompts')) &&
      JSON.stringify(r.resources.map(x => x.uri)) === JSON.stringify(kept('resources')) &&
      JSON.stringify(r.resourceTemplates.map(x => x.uriTemplate)) === JSON.stringify(kept('resources'))
  }), { numRuns: 2000 })
  t.pass('2,000 random rules and lists')
})

t.test('an inspected request never forwards a refused call, and answers each one', async t => {
  const call = fc.record({ method: fc.constantFrom('tools/call', 'prompts/get', 'resources/read', 'ping'), n: name })
  fc.assert(fc.property(rule, fc.array(call, { minLength: 1, maxLength: 6 }), fc.boolean(), (key, calls, batch) => {
    const effective = effectiveRule(key, undefined)
    if (effective === null) return true
    const messages = calls.map((c, i) => ({ jsonrpc: '2.0', id: i + 1, method: c.method, params: c.method === 'resources/read' ? { uri: c.n } : { name: c.n } }))
    const considered = batch ? messages : messages.slice(0, 1)
    const body = Buffer.from(JSON.stringify(batch ? messages : messages[0]))
    const seen = inspectRequest(body, effective, { version: undefined, method: undefined, name: undefined })
    if (!seen.ok) return false
    const sent = new Set((seen.forward === null ? [] : [JSON.parse(seen.forward.toString()) as { id: number }].flat()).map(m => m.id))
    const answered = new Set(seen.answers.map(a => (a as { id: number }).id))
    const kind = (m: string): keyof ScopeRule | null => m === 'tools/call' ? 'tools' : m === 'prompts/get' ? 'prompts' : m === 'resources/read' ? 'resources' : null
    for (const m of considered) {
      const k = kind(m.method)
      const n = 'uri' in m.params ? m.params.uri : m.params.name
      const allowed = k === null || reference(key, undefined, k, n ?? '')
      // Allowed: forwarded and not answered here; refused: answered here and not forwarded.
      if (allowed !== sent.has(m.id) || allowed === answered.has(m.id)) return false
    }
    return true
  }), { numRuns: 2000 })
  t.pass('2,000 random requests')
})

t.test('a server\'s own rule wins over "*"', async t => {
  t.same(keyRuleFor({ '*': { tools: ['a'] }, s: { tools: [] } }, 's'), { tools: [] })
  t.same(keyRuleFor({ '*': { tools: ['a'] } }, 'other'), { tools: ['a'] })
  t.equal(keyRuleFor(null, 's'), undefined)
})
