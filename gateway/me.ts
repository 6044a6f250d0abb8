// GET /api/me on the gateway: who this API key belongs to and what it is — never its hash. The key's
// metadata is read from the store (one read; the auth cache keeps only what a proxied request needs).
import type { FastifyPluginAsync } from 'fastify'
import { errors } from '../core/errors.ts'
import type { KeyStore } from '../core/store/store.ts'

function iso (ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString()
}

export const meRoute: FastifyPluginAsync<{ store: KeyStore }> = async function meRoute (app, { store }) {
  app.get('/api/me', async (request) => {
    const { user, keyId } = request.gate.principal as NonNullable<typeof request.gate.principal>
    // A store that cannot be reached throws StoreUnavailableError: 503 (gateway/reply-error.ts).
    const key = await store.getKey(keyId)
    // Deleted since authentication (a race with the revocation).
    if (key === null) throw new errors.KeyInvalid()
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
