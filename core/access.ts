// Who may reach which server: a user's *current* access from the config rule, role, groups and
// disabled flag, and the effective access of a key (its scope ∩ its owner's access). The web
// console runs this same rule in the browser, so this module loads nothing at runtime (type
// imports only; test/console/bundle-has-no-server-code.test.ts holds it to that).
import type { AccessRuleConfig } from '../config/schema.ts'
import type { User } from './store/store.ts'

export type AccessSubject = Pick<User, 'id' | 'email' | 'role' | 'groups' | 'disabled'>

export function userCanReach (rule: AccessRuleConfig, user: AccessSubject): boolean {
  if (user.disabled) return false
  if (rule === 'everyone') return true
  if (rule.roles.includes(user.role)) return true
  if (rule.users.includes(user.id)) return true
  const email = user.email.toLowerCase()
  for (const u of rule.users) if (u.toLowerCase() === email) return true
  for (const g of user.groups) if (rule.groups.includes(g)) return true
  return false
}

/** `["*"]` means every server the owner can reach now and later. */
export function scopeIncludes (mcpServerIds: readonly string[], serverId: string): boolean {
  return mcpServerIds[0] === '*' || mcpServerIds.includes(serverId)
}
