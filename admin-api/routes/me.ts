// Who am I, which MCP servers can I scope a key to, and what do they offer (the key form's choices).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import type { AccessSubject } from '../../core/access.ts'
import { filterCatalog, type CatalogCache } from '../catalog.ts'
import type { KeyService } from '../key-service.ts'
import type { Principal } from '../principal.ts'
import { errorResponses, IdParams, McpServer, McpServerCatalog, Me, ok } from '../schemas.ts'

// The bootstrap token is not a user: it reaches what the admin role reaches.
function subjectOf (principal: Principal): AccessSubject {
  return principal.user ?? { id: '', email: '', role: 'admin', groups: [], disabled: false }
}

export const meRoutes: FastifyPluginAsyncTypebox<{ service: KeyService, catalog: CatalogCache }> = async (app, { service, catalog }) => {
  app.get('/api/me', {
    schema: {
      tags: ['me'],
      summary: 'The caller: user record and role',
      response: { 200: ok(Me, 'The caller'), ...errorResponses(403) }
    }
  }, async (request) => {
    const p = request.adminPrincipal
    const limits = p.user === null ? [] : await service.limits({ userId: p.user.id })
    return { authMethod: p.kind, role: p.role, user: p.user === null ? null : service.userView(p.user), limits }
  })

  app.get('/api/mcp-servers', {
    schema: {
      tags: ['me'],
      summary: 'MCP servers the caller can reach (admins: every server, with its access rule)',
      response: { 200: ok(Type.Object({ items: Type.Array(McpServer) }), 'Servers for the key form'), ...errorResponses(403) }
    }
  }, async (request) => ({ items: service.listServers(subjectOf(request.adminPrincipal)) }))

  app.get('/api/mcp-servers/:id/catalog', {
    schema: {
      tags: ['me'],
      summary: 'What an MCP server offers: its tools, prompts, resources and resource templates, as far as the caller may use them',
      description: 'Listed live from the upstream by the admin API as an MCP client (with the server\'s configured headers), kept briefly (admin.catalog.cacheMs), then filtered by the caller\'s own permissions on the server (its policies); the bootstrap admin token sees everything. A server the caller cannot reach answers 404, like a missing one (admins: every server). 502 when the upstream cannot be listed in admin.catalog.timeoutMs.',
      params: IdParams,
      response: { 200: ok(McpServerCatalog, 'The catalog, filtered for the caller'), ...errorResponses(400, 404, 502) }
    }
  }, async (request) => {
    const { server, rule } = service.catalogTarget(request.params.id, request.adminPrincipal.user)
    return filterCatalog(await catalog.get(server), rule)
  })
}
