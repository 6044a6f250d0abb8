// Own keys: every signed-in user manages their own API keys here. Another user's key answers
// 404 exactly like a missing one; the full key appears only in the 201 of its creation.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errors } from '../../core/errors.ts'
import { audit } from '../audit.ts'
import type { KeyService } from '../key-service.ts'
import { ok, ApiKey, CreatedApiKey, errorResponses, IdParams, NewKeyBody, NoContent, pageOf, PageQuery, RotateKeyBody } from '../schemas.ts'

const tags = ['api-keys']

export const apiKeyRoutes: FastifyPluginAsyncTypebox<{ service: KeyService }> = async (app, { service }) => {
  app.post('/api/api-keys', {
    schema: {
      tags,
      summary: 'Create an API key for yourself',
      description: 'The response carries the full key: it is shown once and only its hash is kept.',
      body: NewKeyBody,
      response: { 201: ok(CreatedApiKey, 'The key record and the full key (shown this once)'), ...errorResponses(400, 403, 409) }
    }
  }, async (request, reply) => {
    const { user } = request.adminPrincipal
    if (user === null) throw new errors.NoUserAccount()
    const { record, key } = await service.createKey(user.id, request.body)
    audit(request, 'api_key.created', { keyId: record.id, userId: record.userId })
    return reply.code(201).send({ ...record, key })
  })

  app.get('/api/api-keys', {
    schema: {
      tags,
      summary: 'List your API keys, newest first',
      querystring: PageQuery,
      response: { 200: ok(pageOf(ApiKey), 'A page of your keys'), ...errorResponses(400, 403) }
    }
  }, async (request) => {
    const { user } = request.adminPrincipal
    // The bootstrap token owns no keys.
    if (user === null) return { items: [], nextCursor: null }
    return service.listKeys({ ...request.query, userId: user.id })
  })

  app.get('/api/api-keys/:id', {
    schema: {
      tags,
      summary: 'Get one of your API keys',
      params: IdParams,
      response: { 200: ok(ApiKey, 'The key (never its secret or hash)'), ...errorResponses(403, 404) }
    }
  }, async (request) => {
    const { user } = request.adminPrincipal
    if (user === null) throw new errors.ApiKeyNotFound(request.params.id)
    return service.getKey(request.params.id, { ownerId: user.id })
  })

  app.post('/api/api-keys/:id/rotate', {
    schema: {
      tags,
      summary: 'Rotate one of your API keys: a new secret, the same key id',
      description: 'The response carries the new full key, shown once. The old key keeps working for overlapSeconds (default admin.rotationOverlapSeconds, never past expiresAt), then every gateway refuses it.',
      params: IdParams,
      body: RotateKeyBody,
      response: { 200: ok(CreatedApiKey, 'The key record and its new full key (shown this once)'), ...errorResponses(400, 403, 404) }
    }
  }, async (request) => {
    const { user } = request.adminPrincipal
    if (user === null) throw new errors.ApiKeyNotFound(request.params.id)
    const { record, key } = await service.rotateKey(request.params.id, { ownerId: user.id, ...(request.body?.overlapSeconds === undefined ? {} : { overlapSeconds: request.body.overlapSeconds }) })
    audit(request, 'api_key.rotated', { keyId: record.id, userId: record.userId, previousSecretValidUntil: record.previousSecretValidUntil ?? null })
    return { ...record, key }
  })

  app.delete('/api/api-keys/:id', {
    schema: {
      tags,
      summary: 'Delete one of your API keys (refused by every gateway at once)',
      params: IdParams,
      response: { 204: ok(NoContent, 'Deleted'), ...errorResponses(403, 404) }
    }
  }, async (request, reply) => {
    const { user } = request.adminPrincipal
    if (user === null) throw new errors.ApiKeyNotFound(request.params.id)
    const deleted = await service.deleteKey(request.params.id, { ownerId: user.id })
    audit(request, 'api_key.deleted', { keyId: deleted.id, userId: deleted.userId })
    return reply.code(204).send(null)
  })
}
