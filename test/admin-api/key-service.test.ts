// The key service without HTTP (as the CLI uses it), on a real SQLite store: expected failures
// are typed errors with stable codes, results are public views without the hash, and a created
// key parses and verifies against the argon2id hash made with the configured parameters.
import t from 'tap'
import { createKeyService, keyView } from '../../admin-api/key-service.ts'
import { ManualClock } from '../../core/clock.ts'
import { errors } from '../../core/errors.ts'
import { verifySecret } from '../../core/hashing.ts'
import { parseKey } from '../../core/key-format.ts'
import { testConfig } from '../helpers/admin.ts'
import { sqliteStore } from '../helpers/stores.ts'

t.test('create, read, list and delete through the service', async t => {
  const clock = new ManualClock(Date.parse('2026-05-01T12:00:00Z'))
  const store = await sqliteStore(t, { clock })
  const config = testConfig({ admin: { maxKeysPerUser: 3 } })
  const service = createKeyService({ store, config, clock })

  const user = await service.createUser({ email: 'Svc@Example.com', name: 'Service', groups: ['beta-team'] })
  t.same(user, { id: user.id, kind: 'human', email: 'svc@example.com', name: 'Service', role: 'user', roleFromGroups: false, groups: ['beta-team'], disabled: false, createdAt: '2026-05-01T12:00:00.000Z' })

  const { record, key } = await service.createKey(user.id, { name: ' ci ', mcpServerIds: ['beta'], expiresAt: '2026-06-01T00:00:00Z' })
  t.same(Object.keys(record).sort(), ['createdAt', 'description', 'expiresAt', 'id', 'lastUsedAt', 'mcpServerIds', 'name', 'userId'], 'public view: no secretHash')
  t.match(record, { userId: user.id, name: 'ci', mcpServerIds: ['beta'], createdAt: '2026-05-01T12:00:00.000Z', expiresAt: '2026-06-01T00:00:00.000Z', lastUsedAt: null })
  const parsed = parseKey(key)
  t.ok(parsed.ok, 'the key parses')
  if (!parsed.ok) return
  t.equal(parsed.key.userId, user.id)
  t.equal(parsed.key.keyId, record.id)
  const stored = await store.getKey(record.id)
  t.match(stored?.secretHash, /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/, 'hashed with config.hashing')
  t.ok(await verifySecret(stored?.secretHash ?? '', parsed.key.secret), 'the secret verifies')
  t.notOk(await verifySecret(stored?.secretHash ?? '', parsed.key.secret.slice(0, -1) + (parsed.key.secret.endsWith('x') ? 'y' : 'x')), 'a different secret does not')
  t.same(keyView(stored!), record, 'the view of the stored record equals the returned record')

  t.same(await service.getKey(record.id, { ownerId: user.id }), record)
  t.same((await service.listKeys({ userId: user.id })).items, [record])
  t.match(await service.getKeyWithOwner(record.id), { ...record, user: { id: user.id, email: 'svc@example.com', name: 'Service' } })
  t.same(service.listServers({ ...user, createdAt: 0 } as never).map(s => s.id), ['alpha', 'beta'])

  t.same(await service.deleteKey(record.id, { ownerId: user.id }), record)
  t.equal(await store.getKey(record.id), null)
})

t.test('expected failures are typed errors with stable codes', async t => {
  const clock = new ManualClock(Date.parse('2026-05-01T12:00:00Z'))
  const store = await sqliteStore(t, { clock })
  const service = createKeyService({ store, config: testConfig({ admin: { maxKeysPerUser: 1 } }), clock })
  const a = await service.createUser({ email: 'a@example.com' })
  const b = await service.createUser({ email: 'b@example.com' })
  const mine = (await service.createKey(a.id, { name: 'k', mcpServerIds: ['alpha'] })).record

  const cases: Array<[string, () => Promise<unknown>, new (...args: any[]) => Error, string, RegExp]> = [
    ['unknown server', () => service.createKey(b.id, { name: 'k', mcpServerIds: ['nope'] }), errors.McpServerNotFound, 'MCPGATE_MCP_SERVER_NOT_FOUND', /"nope"/],
    ['unreachable server', () => service.createKey(b.id, { name: 'k', mcpServerIds: ['gamma'] }), errors.McpServerNotFound, 'MCPGATE_MCP_SERVER_NOT_FOUND', /"gamma"/],
    ['limit', () => service.createKey(a.id, { name: 'k2', mcpServerIds: ['alpha'] }), errors.KeyLimitReached, 'MCPGATE_KEY_LIMIT_REACHED', /maximum of 1/],
    ['bad name', () => service.createKey(b.id, { name: ' ', mcpServerIds: ['alpha'] }), errors.ValidationFailed, 'MCPGATE_VALIDATION_FAILED', /^name:/],
    ['bad expiry', () => service.createKey(b.id, { name: 'k', mcpServerIds: ['alpha'], expiresAt: '2026-05-01T11:59:59Z' }), errors.ValidationFailed, 'MCPGATE_VALIDATION_FAILED', /^expiresAt: must be in the future/],
    ['star with others', () => service.createKey(b.id, { name: 'k', mcpServerIds: ['*', 'alpha'] }), errors.ValidationFailed, 'MCPGATE_VALIDATION_FAILED', /^mcpServerIds:/],
    ['empty scope', () => service.createKey(b.id, { name: 'k', mcpServerIds: [] }), errors.ValidationFailed, 'MCPGATE_VALIDATION_FAILED', /^mcpServerIds:/],
    ['owner missing', () => service.createKey('nosuchuser', { name: 'k', mcpServerIds: ['alpha'] }), errors.UserNotFound, 'MCPGATE_USER_NOT_FOUND', /nosuchuser/],
    ['someone else\'s key', () => service.getKey(mine.id, { ownerId: b.id }), errors.ApiKeyNotFound, 'MCPGATE_API_KEY_NOT_FOUND', new RegExp(mine.id)],
    ['delete someone else\'s key', () => service.deleteKey(mine.id, { ownerId: b.id }), errors.ApiKeyNotFound, 'MCPGATE_API_KEY_NOT_FOUND', new RegExp(mine.id)],
    ['malformed key id', () => service.getKey('../../etc'), errors.ApiKeyNotFound, 'MCPGATE_API_KEY_NOT_FOUND', /not found/],
    ['duplicate email', () => service.createUser({ email: 'A@EXAMPLE.COM' }), errors.EmailTaken, 'MCPGATE_EMAIL_TAKEN', /a@example.com/],
    ['bad email', () => service.createUser({ email: 'nope' }), errors.ValidationFailed, 'MCPGATE_VALIDATION_FAILED', /^email:/],
    ['empty patch', () => service.updateUser(a.id, {}), errors.ValidationFailed, 'MCPGATE_VALIDATION_FAILED', /nothing to change/],
    ['patch missing user', () => service.updateUser('nosuchuser', { name: 'x' }), errors.UserNotFound, 'MCPGATE_USER_NOT_FOUND', /nosuchuser/],
    ['delete missing user', () => service.deleteUser('nosuchuser'), errors.UserNotFound, 'MCPGATE_USER_NOT_FOUND', /nosuchuser/],
    ['bad page limit', () => service.listKeys({ limit: 0 }), errors.ValidationFailed, 'MCPGATE_VALIDATION_FAILED', /^limit:/],
    ['bad cursor', () => service.listUsers({ cursor: 'x' }), errors.ValidationFailed, 'MCPGATE_VALIDATION_FAILED', /^cursor:/]
  ]
  for (const [label, run, type, code, message] of cases) {
    const err = await run().then(() => null, (e: unknown) => e as Error & { code?: string })
    t.type(err, type, `${label}: ${type.name}`)
    t.equal(err?.code, code, `${label}: code`)
    t.match(err?.message, message, `${label}: message`)
  }
  t.equal(await store.countKeys(b.id), 0, 'no failed create stored anything')
  t.equal(await store.getKey(mine.id) === null, false, 'the refused delete left the key')

  await service.deleteUser(a.id)
  t.equal(await store.getKey(mine.id), null, 'deleting a user deletes their keys')
})
