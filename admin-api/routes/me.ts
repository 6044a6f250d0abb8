// Who am I, and which MCP servers can I scope a key to (the key form's choices).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import type { AccessSubject } from '../../core/access.ts'
import { userView, type KeyService } from '../key-service.ts'
import type { Principal } from '../principal.ts'
import { errorResponses, McpServer, Me, ok } from '../schemas.ts'

// The bootstrap token is not a user: it reaches what the admin role reaches.
function subjectOf (principal: Principal): AccessSubject {
  return principal.user ?? { id: '', email: '', role: 'admin', groups: [], disabled: false }
}

export const meRoutes: FastifyPluginAsyncTypebox<{ service: KeyService }> = async (app, { service }) => {
  app.get('/api/me', {
    schema: {
      tags: ['me'],
      summary: 'The caller: user record and role',
      response: { 200: ok(Me, 'The caller'), ...errorResponses(403) }
    }
  }, async (request) => {
    const p = request.adminPrincipal
    return { authMethod: p.kind, role: p.role, user: p.user === null ? null : userView(p.user) }
  })

  app.get('/api/mcp-servers', {
    schema: {
      tags: ['me'],
      summary: 'MCP servers the caller can reach (admins: every server, with its access rule)',
      response: { 200: ok(Type.Object({ items: Type.Array(McpServer) }), 'Servers for the key form'), ...errorResponses(403) }
    }
  }, async (request) => ({ items: service.listServers(subjectOf(request.adminPrincipal)) }))
}
