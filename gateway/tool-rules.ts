// The effective per-tool rule of a request (core/tool-scope.ts): the key's rule for the server ∩
// the owner's policies on it, compiled once and remembered where the inputs live — the key's
// scopes object (cached with the key), the registry entry and the owner's state (both replaced
// whole when they change, so weak maps keyed by them can never serve a stale rule). null for the
// usual request: nothing restricted, nothing to look at.
import { effectiveRule, keyRuleFor, NameMatcher, ownerRule, type EffectiveRule, type ScopeRule } from '../core/tool-scope.ts'
import type { Principal } from './auth.ts'
import type { UserState } from './key-cache.ts'
import type { RegisteredServer } from './registry.ts'

export class ToolRules {
  /** One compiled matcher per list array (a key's lists and the owner rules below are kept). */
  readonly #compiled = new WeakMap<readonly string[], NameMatcher>()
  /** The owner's rule per server entry and owner state. */
  readonly #owners = new WeakMap<RegisteredServer, WeakMap<UserState, { rule: ScopeRule | undefined }>>()

  /** What this request may use of `server`, or null when everything. */
  ruleFor (server: RegisteredServer, principal: Principal): EffectiveRule | null {
    const key = keyRuleFor(principal.scopes, server.id)
    const policies = server.config.policies
    if (key === undefined && (policies === undefined || policies.length === 0)) return null
    return effectiveRule(key, this.#ownerRule(server, principal.user), this.#compile)
  }

  #ownerRule (server: RegisteredServer, user: UserState): ScopeRule | undefined {
    const policies = server.config.policies
    if (policies === undefined || policies.length === 0) return undefined
    let byUser = this.#owners.get(server)
    if (byUser === undefined) {
      byUser = new WeakMap()
      this.#owners.set(server, byUser)
    }
    let known = byUser.get(user)
    if (known === undefined) {
      known = { rule: ownerRule(policies, user) }
      byUser.set(user, known)
    }
    return known.rule
  }

  readonly #compile = (entries: readonly string[]): NameMatcher => {
    let m = this.#compiled.get(entries)
    if (m === undefined) {
      m = new NameMatcher(entries)
      this.#compiled.set(entries, m)
    }
    return m
  }
}
