// How a key's per-tool scopes read in the console: the counts after "2 servers" in the keys table
// and a line per server in its expanded list. The rule for a server is the gateway's own
// (core/tool-scope.ts keyRuleFor: scopes[S] ?? scopes["*"], or everything).
import { keyRuleFor, SCOPE_KINDS, type KeyScopes, type ScopeKind, type ScopeRule } from '../../core/tool-scope.ts'
import { plural } from './format.ts'

const SINGULAR: Record<ScopeKind, string> = { tools: 'tool', resources: 'resource', prompts: 'prompt' }

/**
 * " · 5 tools · no prompts": per kind a rule restricts, how many entries the key names for it
 * (a glob counts as one), summed over the rules in effect; "some tools" when only some of the
 * key's servers are restricted. Nothing for a kind no rule restricts.
 */
export function scopeCounts (scopes: KeyScopes | undefined, mcpServerIds: readonly string[]): string[] {
  if (scopes === undefined) return []
  // With ["*"] every server falls under its own entry or "*" (or, without "*", under nothing).
  const rules: Array<ScopeRule | undefined> = mcpServerIds[0] === '*'
    ? [...Object.values(scopes), ...(scopes['*'] === undefined ? [undefined] : [])]
    : mcpServerIds.map(id => keyRuleFor(scopes, id))
  const out: string[] = []
  for (const kind of SCOPE_KINDS) {
    const lists = rules.map(r => r?.[kind])
    if (lists.every(l => l === undefined)) continue
    if (lists.some(l => l === undefined)) {
      out.push(`some ${kind}`)
      continue
    }
    const n = lists.reduce((sum, l) => sum + (l?.length ?? 0), 0)
    out.push(n === 0 ? `no ${kind}` : plural(n, SINGULAR[kind], kind))
  }
  return out
}

/** "tools: search_*, get_issue · no prompts", or "everything" for a server the key reaches whole. */
export function ruleText (rule: ScopeRule | undefined): string {
  const parts: string[] = []
  for (const kind of SCOPE_KINDS) {
    const list = rule?.[kind]
    if (list === undefined) continue
    parts.push(list.length === 0 ? `no ${kind}` : `${kind}: ${list.join(', ')}`)
  }
  return parts.length === 0 ? 'all tools, prompts and resources' : parts.join(' · ')
}
