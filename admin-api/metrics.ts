// The admin API's Prometheus metrics on GET /metrics: requests by route pattern, method and status,
// plus the process defaults, on a per-app registry. Route patterns (not URLs) keep labels bounded.
import type { FastifyInstance } from 'fastify'
import { Counter, type Registry } from 'prom-client'
import { createRegistry } from '../core/metrics.ts'

export function adminMetrics (app: FastifyInstance): Registry {
  const registry = createRegistry()
  const requests = new Counter({
    name: 'mcpgate_admin_requests_total',
    help: 'Admin API requests by route pattern ("none" for unknown routes), method and status',
    labelNames: ['route', 'method', 'status'],
    registers: [registry]
  })
  app.addHook('onResponse', function countRequest (request, reply, done) {
    requests.inc({
      route: request.is404 ? 'none' : (request.routeOptions.url ?? 'none'),
      method: request.method,
      status: String(reply.statusCode)
    })
    done()
  })
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()))
  return registry
}
