// Whether a user can reach a server under its access rule: the same rule as core/access.ts,
// used by the admin key list to flag keys scoped to servers their owner can no longer reach.
import type { AccessRule, User } from './api.ts'

export function userCanReach (rule: AccessRule, user: Pick<User, 'id' | 'email' | 'role' | 'groups' | 'disabled'>): boolean {
  if (user.disabled) return false
  if (rule === 'everyone') return true
  if (rule.roles.includes(user.role)) return true
  if (rule.users.includes(user.id)) return true
  const email = user.email.toLowerCase()
  if (rule.users.some(u => u.toLowerCase() === email)) return true
  return user.groups.some(g => rule.groups.includes(g))
}
