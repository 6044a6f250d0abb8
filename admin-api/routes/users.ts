// Admin user management, and keys created by an admin on a user's behalf (service accounts).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { audit } from '../audit.ts'
import type { KeyService } from '../key-service.ts'
import { ok, CreatedApiKey, errorResponses, IdParams, NewKeyBody, NewUserBody, NoContent, pageOf, User, UserPatchBody, UserQuery } from '../schemas.ts'

const tags = ['admin']

export const userRoutes: FastifyPluginAsyncTypebox<{ service: KeyService }> = async (app, { service }) => {
  app.post('/api/users', {
    schema: {
      tags,
      summary: 'Create a user (e.g. a service account)',
      body: NewUserBody,
      response: { 201: ok(User, 'The new user'), ...errorResponses(400, 403, 409) }
    }
  }, async (request, reply) => {
    const user = await service.createUser(request.body)
    audit(request, 'user.created', { userId: user.id, email: user.email, fields: Object.keys(request.body) })
    return reply.code(201).send(user)
  })

  app.get('/api/users', {
    schema: {
      tags,
      summary: 'List users, oldest first (?kind=service: service accounts only)',
      querystring: UserQuery,
      response: { 200: ok(pageOf(User), 'A page of users'), ...errorResponses(400, 403) }
    }
  }, async (request) => service.listUsers(request.query))

  app.get('/api/users/:id', {
    schema: {
      tags,
      summary: 'Get a user',
      params: IdParams,
      response: { 200: ok(User, 'The user'), ...errorResponses(403, 404) }
    }
  }, async (request) => service.getUser(request.params.id))

  app.patch('/api/users/:id', {
    schema: {
      tags,
      summary: 'Change a user\'s name, role, groups or disabled flag (takes effect on every gateway at once)',
      description: 'Refused with 409: disabling or demoting the last enabled admin (MCPGATE_LAST_ADMIN), and demoting an admin whose role comes from an identity provider group (MCPGATE_ROLE_FROM_IDP_GROUP; roleFromGroups true), which the next sign-in would undo.',
      params: IdParams,
      body: UserPatchBody,
      response: { 200: ok(User, 'The user'), ...errorResponses(400, 403, 404, 409) }
    }
  }, async (request) => {
    const user = await service.updateUser(request.params.id, request.body)
    audit(request, 'user.updated', { userId: user.id, email: user.email, fields: Object.keys(request.body) })
    return user
  })

  app.delete('/api/users/:id', {
    schema: {
      tags,
      summary: 'Delete a user and every API key of theirs',
      description: 'Refused with 409 for the last enabled admin (MCPGATE_LAST_ADMIN).',
      params: IdParams,
      response: { 204: ok(NoContent, 'Deleted, with every key of theirs'), ...errorResponses(403, 404, 409) }
    }
  }, async (request, reply) => {
    await service.deleteUser(request.params.id)
    audit(request, 'user.deleted', { userId: request.params.id })
    return reply.code(204).send(null)
  })

  app.post('/api/users/:id/api-keys', {
    schema: {
      tags,
      summary: 'Create an API key owned by a user (service accounts)',
      description: 'Same rules as POST /api/api-keys, checked against that user\'s access.',
      params: IdParams,
      body: NewKeyBody,
      response: { 201: ok(CreatedApiKey, 'The key record and the full key (shown this once)'), ...errorResponses(400, 403, 404, 409) }
    }
  }, async (request, reply) => {
    const { record, key } = await service.createKey(request.params.id, request.body)
    audit(request, 'api_key.created', { keyId: record.id, userId: record.userId })
    return reply.code(201).send({ ...record, key })
  })
}
