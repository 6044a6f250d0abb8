// POST /api/api-keys/:id/rotate: the owner rotates their key (the same id, a new secret shown once,
// the old one kept for the overlap — the config's default, the body's, never past expiresAt, 0 = at
// once); GET shows rotatedAt, the generation and the overlap's end; another user's key answers 404
// like a missing one; admins rotate any key; a bad overlap is a 400 naming the field.
import t from 'tap'
import { ManualClock } from '../../core/clock.ts'
import { parseKey } from '../../core/key-format.ts'
import { ADMIN_TOKEN, startAdmin, testConfig } from '../helpers/admin.ts'

t.test('rotate', async t => {
  const clock = new ManualClock(Date.parse('2027-03-01T00:00:00Z'))
  const h = await startAdmin(t, { clock, config: testConfig({ admin: { rotationOverlapSeconds: 3600 } }) })
  const ada = await h.service.createUser({ email: 'ada@example.com', name: 'Ada' })
  const bob = await h.service.createUser({ email: 'bob@example.com', name: 'Bob' })
  const key = await h.service.createKey(ada.id, { name: 'k', mcpServerIds: ['*'], expiresAt: '2027-03-01T00:30:00Z' })
  const bobs = await h.service.createKey(bob.id, { name: 'b', mcpServerIds: ['*'] })
  // The admin route; the owner's check of the own route is exercised below, through the service.
  const rotate = (url: string, body: unknown = {}) => h.request({ method: 'POST', url, token: ADMIN_TOKEN, body })

  const res = await rotate(`/api/admin-api-keys/${key.record.id}/rotate`)
  t.equal(res.statusCode, 200)
  const rotated = res.json() as { id: string, key: string, rotatedAt: string, secretGeneration: number, previousSecretValidUntil: string }
  const parsed = parseKey(rotated.key)
  t.ok(parsed.ok && parsed.key.keyId === key.record.id, 'the same key id, a new key')
  t.equal(rotated.rotatedAt, '2027-03-01T00:00:00.000Z')
  t.equal(rotated.secretGeneration, 1)
  t.equal(rotated.previousSecretValidUntil, '2027-03-01T00:30:00.000Z', 'the default hour is cut to the key\'s expiry')
  const got = (await h.request({ method: 'GET', url: `/api/admin-api-keys/${key.record.id}`, token: ADMIN_TOKEN })).json() as Record<string, unknown>
  t.match(got, { rotatedAt: rotated.rotatedAt, secretGeneration: 1, previousSecretValidUntil: rotated.previousSecretValidUntil }, 'GET shows the rotation')
  t.notOk('key' in got, 'GET never shows a key')

  const now = await rotate(`/api/admin-api-keys/${bobs.record.id}/rotate`, { overlapSeconds: 0 })
  t.equal(now.statusCode, 200)
  t.notOk('previousSecretValidUntil' in (now.json() as object), 'overlap 0: no previous secret')
  t.equal((await rotate(`/api/admin-api-keys/${bobs.record.id}/rotate`, { overlapSeconds: -1 })).statusCode, 400, 'a negative overlap: 400')
  t.match((await rotate(`/api/admin-api-keys/${bobs.record.id}/rotate`, { overlapSeconds: 'x' })).json(), { code: 'MCPGATE_VALIDATION_FAILED', message: /overlapSeconds/ }, 'naming the field')
  t.equal((await rotate('/api/admin-api-keys/nope/rotate')).statusCode, 404, 'a missing key: 404')

  // The owner's route: another user's key is not theirs.
  await t.rejects(h.service.rotateKey(bobs.record.id, { ownerId: ada.id }), { code: 'MCPGATE_API_KEY_NOT_FOUND' }, 'another user\'s key: not found')
  const own = await h.service.rotateKey(key.record.id, { ownerId: ada.id, overlapSeconds: 60 })
  t.equal(own.record.secretGeneration, 2, 'the owner rotates their own')
  t.equal((await h.request({ method: 'POST', url: `/api/api-keys/${key.record.id}/rotate`, token: ADMIN_TOKEN, body: {} })).statusCode, 404, 'the bootstrap token owns no keys: 404 on the own route')
})
