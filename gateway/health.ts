// Liveness and readiness: /healthz answers while the process serves; /readyz also needs the store
// to answer a ping and the invalidation subscription to be live (or cached keys could go stale).
import type { FastifyPluginAsync } from 'fastify'
import type { KeyStore } from '../core/store/store.ts'
import type { StoreHealth } from './auth.ts'

export interface HealthOptions {
  store: KeyStore
  health: StoreHealth
}

export const healthRoutes: FastifyPluginAsync<HealthOptions> = async function healthRoutes (app, { store, health }) {
  app.get('/healthz', async () => ({ status: 'ok' }))

  app.get('/readyz', async (_request, reply) => {
    let storeOk = true
    try {
      await store.ping()
      health.markHealthy()
    } catch {
      storeOk = false
      health.markFailed()
    }
    const subscribed = store.isSubscribed()
    const ready = storeOk && subscribed
    reply.code(ready ? 200 : 503)
    if (!ready) reply.header('retry-after', '2')
    return { status: ready ? 'ready' : 'not ready', store: storeOk ? 'ok' : 'unavailable', subscribed }
  })
}
