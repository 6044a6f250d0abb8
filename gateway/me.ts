// GET /api/me on the gateway: who this API key belongs to and what it is — never its hash. The key's
// metadata is read from the store (one read; the auth cache keeps only what a proxied request needs).
import type { FastifyPluginAsync } from 'fastify'
import { errors } from '../core/errors.ts'
import type { KeyStore } from '../core/store/store.ts'
import type { Limiter } from './limits.ts'

function iso (ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString()
}

export const meRoute: FastifyPluginAsync<{ store: KeyStore, limiter: Limiter }> = async function meRoute (app, { store, limiter }) {
  app.get('/api/me', async (request) => {
    const principal = request.gate.principal as NonNullable<typeof request.gate.principal>
    const { user, keyId } = principal
    // A store that cannot be reached throws StoreUnavailableError: 503 (gateway/reply-error.ts).
    const key = await store.getKey(keyId)
    // Deleted since authentication (a race with the revocation).
    if (key === null) throw new errors.KeyInvalid()
    return {
      user: { id: user.id, email: user.email, name: user.name, role: user.role, kind: user.kind },
      key: {
        id: key.id,
        name: key.name,
        mcpServerIds: [...key.mcpServerIds],
        ...(key.scopes === undefined ? {} : { scopes: key.scopes }),
        expiresAt: iso(key.expiresAt),
        createdAt: iso(key.createdAt)
      },
      // The key's and its owner's rate limits and quotas, with what is left now ([] when none).
      limits: await limiter.status(principal)
    }
  })
}
