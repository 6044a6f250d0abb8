// The gateway's audit trail over REST: GET /api/audit-events (admins: every event, with filters;
// users: their own keys' events only) and a key's usage (own key; admins: any key).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errors } from '../../core/errors.ts'
import type { AuditTrail } from '../audit-trail.ts'
import { AuditEvent, AuditQuery, errorResponses, IdParams, KeyUsage, ok, pageOf } from '../schemas.ts'

export const auditEventRoutes: FastifyPluginAsyncTypebox<{ trail: AuditTrail }> = async (app, { trail }) => {
  app.get('/api/audit-events', {
    schema: {
      tags: ['audit'],
      summary: 'Audit events of MCP requests, newest first',
      description: 'One event per MCP request (per message of a batch) and per refusal. Admins see every event; a user sees the events of their own keys only. A page scans a bounded number of events: it may be short and still have a nextCursor.',
      querystring: AuditQuery,
      response: { 200: ok(pageOf(AuditEvent), 'A page of events'), ...errorResponses(400, 403) }
    }
  }, async (request) => trail.listEvents(request.adminPrincipal, request.query))

  app.get('/api/api-keys/:id/usage', {
    schema: {
      tags: ['api-keys'],
      summary: 'Usage of one of your keys over the last 30 days',
      params: IdParams,
      response: { 200: ok(KeyUsage, 'Calls per hour and day, top tools, last use'), ...errorResponses(403, 404) }
    }
  }, async (request) => {
    const { user } = request.adminPrincipal
    if (user === null) throw new errors.ApiKeyNotFound(request.params.id)
    return trail.keyUsage(request.params.id, { ownerId: user.id })
  })
}

/** Admins: any key's usage. */
export const adminAuditRoutes: FastifyPluginAsyncTypebox<{ trail: AuditTrail }> = async (app, { trail }) => {
  app.get('/api/admin-api-keys/:id/usage', {
    schema: {
      tags: ['admin'],
      summary: 'Usage of any key over the last 30 days',
      params: IdParams,
      response: { 200: ok(KeyUsage, 'Calls per hour and day, top tools, last use'), ...errorResponses(403, 404) }
    }
  }, async (request) => trail.keyUsage(request.params.id))
}
