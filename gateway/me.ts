// GET /api/me on the gateway: who this API key belongs to and what it is — never its hash.
import type { FastifyPluginAsync } from 'fastify'

function iso (ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString()
}

export const meRoute: FastifyPluginAsync = async function meRoute (app) {
  app.get('/api/me', async (request) => {
    const { user, key } = request.principal
    return {
      user: { id: user.id, email: user.email, name: user.name, role: user.role },
      key: {
        id: key.id,
        name: key.name,
        mcpServerIds: [...key.mcpServerIds],
        expiresAt: iso(key.expiresAt),
        createdAt: iso(key.createdAt)
      }
    }
  })
}
