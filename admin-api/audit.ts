// Audit events: one structured log line per change to keys or users and per refused admin
// call, with who did it, to what, the request id and client IP. Never a secret or a hash: the
// fields are built here from ids, not copied from records.
import type { FastifyRequest } from 'fastify'
import type { Principal } from './principal.ts'

export type AuditEvent =
  | 'api_key.created'
  | 'api_key.deleted'
  | 'api_key.rotated'
  | 'user.created'
  | 'user.updated'
  | 'user.deleted'
  | 'admin.auth_failed'
  | 'admin.forbidden'
  | 'admin.rate_limited'

export interface AuditTarget {
  keyId?: string
  userId?: string
  email?: string
  fields?: string[]
  reason?: string
  /** A rotation: until when the old secret works (RFC 3339), or null. */
  previousSecretValidUntil?: string | null
}

export function actorOf (principal: Principal | null): Record<string, string> | null {
  if (principal === null) return null
  if (principal.user === null) return { type: 'admin-token' }
  return { type: 'user', id: principal.user.id, email: principal.user.email }
}

export function audit (request: FastifyRequest, event: AuditEvent, target: AuditTarget, principal: Principal | null = request.adminPrincipal ?? null): void {
  const failure = event === 'admin.auth_failed' || event === 'admin.forbidden' || event === 'admin.rate_limited'
  request.log[failure ? 'warn' : 'info']({
    audit: true,
    event,
    actor: actorOf(principal),
    target,
    requestId: request.id,
    ip: request.ip
  }, `audit ${event}`)
}
