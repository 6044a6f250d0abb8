// The OpenAPI document is generated from the route schemas: valid OpenAPI 3.1, every admin route
// present with its security and its error responses, and the docs UI served at /docs.
import t from 'tap'
import { Validator } from '@seriousme/openapi-schema-validator'
import { startAdmin } from '../helpers/admin.ts'

const ROUTES: Array<[string, string, number[]]> = [
  ['post', '/api/api-keys', [400, 401, 403, 409, 503]],
  ['get', '/api/api-keys', [400, 401, 503]],
  ['get', '/api/api-keys/{id}', [401, 404, 503]],
  ['delete', '/api/api-keys/{id}', [401, 404, 503]],
  ['get', '/api/admin-api-keys', [400, 401, 403, 503]],
  ['get', '/api/admin-api-keys/{id}', [401, 403, 404, 503]],
  ['delete', '/api/admin-api-keys/{id}', [401, 403, 404, 503]],
  ['post', '/api/users', [400, 401, 403, 409, 503]],
  ['get', '/api/users', [400, 401, 403, 503]],
  ['get', '/api/users/{id}', [401, 403, 404, 503]],
  ['patch', '/api/users/{id}', [400, 401, 403, 404, 503]],
  ['delete', '/api/users/{id}', [401, 403, 404, 503]],
  ['post', '/api/users/{id}/api-keys', [400, 401, 403, 404, 409, 503]],
  ['get', '/api/mcp-servers', [401, 503]],
  ['get', '/api/mcp-servers/{id}/catalog', [400, 401, 404, 502, 503]],
  ['get', '/api/me', [401, 503]]
]

t.test('/openapi.json is a valid OpenAPI 3.1 document describing every route', async t => {
  const h = await startAdmin(t)
  const res = await h.request({ method: 'GET', url: '/openapi.json' })
  t.equal(res.statusCode, 200)
  const doc = res.json()
  t.equal(doc.openapi, '3.1.0')
  const result = await new Validator().validate(doc)
  t.ok(result.valid, 'valid per the OpenAPI 3.1 schema')
  if (!result.valid) t.comment(JSON.stringify(result.errors, null, 2).slice(0, 3000))

  const errorSchema = doc.components.schemas.Error
  t.same(errorSchema.required, ['statusCode', 'code', 'error', 'message'], 'one error body')
  for (const [method, path, statuses] of ROUTES) {
    const op = doc.paths[path]?.[method]
    t.ok(op, `${method.toUpperCase()} ${path} documented`)
    if (op === undefined) continue
    t.type(op.summary, 'string', `${method} ${path}: summary`)
    t.notOk(op.security !== undefined && op.security.length === 0, `${method} ${path}: not public`)
    for (const s of statuses) {
      const r = op.responses[String(s)]
      t.ok(r, `${method} ${path}: documents ${s}`)
      t.equal(r?.content?.['application/json']?.schema?.$ref, '#/components/schemas/Error', `${method} ${path}: ${s} uses the error body`)
    }
    const success = Object.keys(op.responses).filter(s => s.startsWith('2'))
    t.equal(success.length, 1, `${method} ${path}: one success response`)
    t.not(op.responses[success[0] as string].description, 'Default Response', `${method} ${path}: success described`)
  }
  t.same(doc.components.securitySchemes.bearer, { type: 'http', scheme: 'bearer', description: doc.components.securitySchemes.bearer.description })
  t.same(doc.paths['/healthz'].get.security, [], 'probes are public')
  t.notOk(JSON.stringify(doc).includes('secretHash'), 'the hash is not part of any schema')
  const created = doc.paths['/api/api-keys'].post.responses['201'].content['application/json'].schema
  t.ok(created.required.includes('key'), 'the 201 documents the one-time key')
  t.equal(doc.paths['/api/api-keys'].post.requestBody.content['application/json'].schema.additionalProperties, false, 'unknown fields documented as refused')
})

t.test('/docs serves the Swagger UI', async t => {
  const h = await startAdmin(t)
  const page = await h.app.inject({ method: 'GET', url: '/docs/' })
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /text\/html/)
  t.match(page.body, /swagger/i)
  const json = await h.app.inject({ method: 'GET', url: '/docs/json' })
  t.equal(json.statusCode, 200)
  t.equal(json.json().info.title, 'mcpgate admin API')
})
