// Admin view of every API key, with its owner; admins may delete any key.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { audit } from '../audit.ts'
import type { KeyService } from '../key-service.ts'
import { ok, AdminApiKey, AdminKeyQuery, CreatedApiKey, errorResponses, IdParams, NoContent, pageOf, RotateKeyBody } from '../schemas.ts'

const tags = ['admin']

export const adminApiKeyRoutes: FastifyPluginAsyncTypebox<{ service: KeyService }> = async (app, { service }) => {
  app.get('/api/admin-api-keys', {
    schema: {
      tags,
      summary: 'List every API key with its owner, newest first',
      querystring: AdminKeyQuery,
      response: { 200: ok(pageOf(AdminApiKey), 'A page of keys with their owners'), ...errorResponses(400, 403) }
    }
  }, async (request) => service.listKeysWithOwners(request.query))

  app.get('/api/admin-api-keys/:id', {
    schema: {
      tags,
      summary: 'Get any API key with its owner',
      params: IdParams,
      response: { 200: ok(AdminApiKey, 'The key with its owner'), ...errorResponses(403, 404) }
    }
  }, async (request) => service.getKeyWithOwner(request.params.id))

  app.post('/api/admin-api-keys/:id/rotate', {
    schema: {
      tags,
      summary: 'Rotate any API key (a service account\'s, say): a new secret, the same key id',
      params: IdParams,
      body: RotateKeyBody,
      response: { 200: ok(CreatedApiKey, 'The key record and its new full key (shown this once)'), ...errorResponses(400, 403, 404) }
    }
  }, async (request) => {
    const { record, key } = await service.rotateKey(request.params.id, request.body?.overlapSeconds === undefined ? {} : { overlapSeconds: request.body.overlapSeconds })
    audit(request, 'api_key.rotated', { keyId: record.id, userId: record.userId, previousSecretValidUntil: record.previousSecretValidUntil ?? null })
    return { ...record, key }
  })

  app.delete('/api/admin-api-keys/:id', {
    schema: {
      tags,
      summary: 'Delete any API key',
      params: IdParams,
      response: { 204: ok(NoContent, 'Deleted'), ...errorResponses(403, 404) }
    }
  }, async (request, reply) => {
    const deleted = await service.deleteKey(request.params.id)
    audit(request, 'api_key.deleted', { keyId: deleted.id, userId: deleted.userId })
    return reply.code(204).send(null)
  })
}
