// Per-tool scopes (DESIGN: "Per-tool scopes"): which tools, resources and prompts of a server a key
// and its owner may use. A key's `scopes` maps a server id (or "*") to a rule; for server S the
// rule is `scopes[S] ?? scopes["*"] ?? everything`. In a rule an absent list allows all, `[]`
// none; entries are exact names or `*` globs (resources: URI globs, `*` matching any characters,
// `/` included). The owner's side is the config's `servers[].policies`: the union of the policies
// that match the owner (none configured = everything). What a request may use = key ∩ owner.
// Shared by the admin API (validation) and the gateway (enforcement); no I/O here.

/** The three kinds of MCP primitive a rule restricts. */
export const SCOPE_KINDS = ['tools', 'resources', 'prompts'] as const
export type ScopeKind = typeof SCOPE_KINDS[number]

/** A rule as stored and configured: absent list = all, [] = none. */
export interface ScopeRule {
  tools?: string[]
  resources?: string[]
  prompts?: string[]
}

/** A key's field: server id or "*" → rule. */
export type KeyScopes = Record<string, ScopeRule>

/** Most entries a list may have, and the longest entry. */
export const MAX_SCOPE_ENTRIES = 200
export const MAX_SCOPE_ENTRY_LENGTH = 512

/** What is wrong with an entry (exact name or glob), or null. Control characters are refused. */
export function entryProblem (entry: unknown): string | null {
  if (typeof entry !== 'string') return 'must be a string'
  if (entry.length === 0) return 'must not be empty'
  if (entry.length > MAX_SCOPE_ENTRY_LENGTH) return `must be at most ${MAX_SCOPE_ENTRY_LENGTH} characters`
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(entry)) return 'must not contain control characters'
  if (entry.includes('**')) return 'uses "**": "*" already matches any characters, "/" included'
  return null
}

/** One list, compiled: exact names in a set, globs as anchored regular expressions. */
export class NameMatcher {
  readonly #exact: ReadonlySet<string>
  readonly #globs: readonly RegExp[]

  constructor (entries: readonly string[]) {
    const exact = new Set<string>()
    const globs: RegExp[] = []
    for (const e of entries) {
      if (e.includes('*')) globs.push(globToRegExp(e))
      else exact.add(e)
    }
    this.#exact = exact
    this.#globs = globs
  }

  matches (name: string): boolean {
    if (this.#exact.has(name)) return true
    for (const g of this.#globs) if (g.test(name)) return true
    return false
  }
}

function globToRegExp (glob: string): RegExp {
  const body = glob.split('*').map(part => part.replace(/[\\^$.|?+()[\]{}]/g, '\\$&')).join('.*')
  return new RegExp(`^${body}$`, 's')
}

/**
 * What a request may use of one server: per kind, every matcher must match (key ∩ owner). A kind
 * without matchers is unrestricted. `NONE_MATCHES` in a list refuses everything of that kind.
 */
export interface EffectiveRule {
  readonly tools: readonly NameMatcher[]
  readonly resources: readonly NameMatcher[]
  readonly prompts: readonly NameMatcher[]
}

export function allows (rule: EffectiveRule, kind: ScopeKind, name: string): boolean {
  for (const m of rule[kind]) if (!m.matches(name)) return false
  return true
}

/** The key's rule for a server: `scopes[S] ?? scopes["*"]`, or undefined for everything. */
export function keyRuleFor (scopes: KeyScopes | null | undefined, serverId: string): ScopeRule | undefined {
  if (scopes === null || scopes === undefined) return undefined
  return scopes[serverId] ?? scopes['*']
}

/** A configured policy: who it is for (absent = everyone), and what it allows. */
export interface PolicyLike extends ScopeRule {
  users?: string[]
  groups?: string[]
  roles?: string[]
}

export interface PolicySubject {
  readonly id: string
  readonly email: string
  readonly role: string
  readonly groups: readonly string[]
}

function policyMatches (p: PolicyLike, who: PolicySubject): boolean {
  const any = (p.users?.length ?? 0) + (p.groups?.length ?? 0) + (p.roles?.length ?? 0)
  if (any === 0) return true
  if (p.roles?.includes(who.role) === true) return true
  const email = who.email.toLowerCase()
  if (p.users?.some(u => u === who.id || u.toLowerCase() === email) === true) return true
  return who.groups.some(g => p.groups?.includes(g) === true)
}

/**
 * The union of the policies that match the owner, per kind: undefined = all (no policies
 * configured, or a matching policy without that list), else the union of the lists (empty when no
 * policy matches).
 */
export function ownerRule (policies: readonly PolicyLike[] | undefined, who: PolicySubject): ScopeRule | undefined {
  if (policies === undefined || policies.length === 0) return undefined
  const matching = policies.filter(p => policyMatches(p, who))
  const rule: ScopeRule = {}
  for (const kind of SCOPE_KINDS) {
    if (matching.some(p => p[kind] === undefined) && matching.length > 0) continue
    rule[kind] = matching.flatMap(p => p[kind] ?? [])
  }
  return rule
}

/** key ∩ owner, compiled; null when both allow everything (the request needs no look at MCP). */
export function effectiveRule (key: ScopeRule | undefined, owner: ScopeRule | undefined, compile: (entries: readonly string[]) => NameMatcher = entries => new NameMatcher(entries)): EffectiveRule | null {
  if (key === undefined && owner === undefined) return null
  const out: Record<ScopeKind, NameMatcher[]> = { tools: [], resources: [], prompts: [] }
  let restricted = false
  for (const kind of SCOPE_KINDS) {
    for (const list of [key?.[kind], owner?.[kind]]) {
      if (list === undefined) continue
      out[kind].push(compile(list))
      restricted = true
    }
  }
  return restricted ? out : null
}

/** A server id as config/schema.ts's `ServerId` allows it (test/admin-api/key-scopes-validation.test.ts holds the two together). */
export const SERVER_ID_PATTERN = '^[a-z0-9][a-z0-9_-]{0,63}$'
const SERVER_ID = new RegExp(SERVER_ID_PATTERN)

/** A key's `scopes` after parseKeyScopes: clean, or the first problem with the field it is in. */
export type ParsedScopes =
  | { readonly ok: true, readonly scopes: KeyScopes | null }
  | { readonly ok: false, readonly field: string, readonly problem: string }

/**
 * A key's `scopes` as a caller sent it (any JSON value), checked the one way every entry point
 * checks it — the admin API, the CLI, the console before it sends: an object mapping a server id
 * or "*" to `{ tools?, resources?, prompts? }`, each a list of at most MAX_SCOPE_ENTRIES entries
 * that pass entryProblem(). Lists come back deduplicated; `{}` (and null) is no rule: null.
 * `serverProblem` says what is wrong with a server id other than "*" where the caller knows the
 * servers (missing, not among the key's): the field is then `scopes.<id>`. Fields are named as
 * the admin API names them, `scopes.github.tools[2]`.
 */
export function parseKeyScopes (value: unknown, serverProblem: (id: string) => string | null = () => null): ParsedScopes {
  const fail = (field: string, problem: string): ParsedScopes => ({ ok: false, field, problem })
  if (value === undefined || value === null) return { ok: true, scopes: null }
  if (typeof value !== 'object' || Array.isArray(value)) return fail('scopes', 'must be an object mapping an MCP server id or "*" to { tools?, resources?, prompts? }')
  const out: KeyScopes = {}
  for (const [id, rule] of Object.entries(value)) {
    // Checked before it is used as a property name or printed: no "__proto__", no control characters.
    if (id !== '*' && !SERVER_ID.test(id)) return fail('scopes', `${JSON.stringify(id.slice(0, 80))} is not an MCP server id or "*"`)
    const at = `scopes.${id}`
    if (id !== '*') {
      const problem = serverProblem(id)
      if (problem !== null) return fail(at, problem)
    }
    if (typeof rule !== 'object' || rule === null || Array.isArray(rule)) return fail(at, 'must be an object with tools, resources and/or prompts lists')
    const clean: ScopeRule = {}
    for (const [kind, list] of Object.entries(rule as Record<string, unknown>)) {
      const field = `${at}.${kind}`
      if (!(SCOPE_KINDS as readonly string[]).includes(kind)) return fail(field, 'unknown field (tools, resources or prompts)')
      if (!Array.isArray(list)) return fail(field, 'must be a list of names or * globs ([] allows none)')
      if (list.length > MAX_SCOPE_ENTRIES) return fail(field, `must have at most ${MAX_SCOPE_ENTRIES} entries`)
      const entries: string[] = []
      for (const [i, entry] of list.entries()) {
        const problem = entryProblem(entry)
        if (problem !== null) return fail(`${field}[${i}]`, problem)
        if (!entries.includes(entry as string)) entries.push(entry as string)
      }
      clean[kind as ScopeKind] = entries
    }
    out[id] = clean
  }
  return { ok: true, scopes: Object.keys(out).length === 0 ? null : out }
}
