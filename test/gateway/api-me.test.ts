// GET /api/me on the gateway: the key's owner and the key's metadata (read from the store: the
// auth cache does not keep it), never its hash; 503 when the store cannot be read.
import t from 'tap'
import { keyHint } from '../../gateway/reply-error.ts'
import { createTestKey, createTestUser, startGateway, testConfig } from '../helpers/gateway.ts'
import { sqliteStore } from '../helpers/stores.ts'

t.test('/api/me', async t => {
  const store = await sqliteStore(t)
  const gw = await startGateway(t, { store, config: testConfig() })
  const user = await createTestUser(store, { email: 'Ada@Example.com', name: 'Ada', role: 'admin', groups: ['g'] })
  const expiresAt = Date.parse('2099-01-02T03:04:05.000Z')
  const k = await createTestKey(store, { user, name: 'laptop', mcpServerIds: ['a', 'b'], expiresAt })
  const record = await store.getKey(k.keyId)

  for (const headers of [{ authorization: `Bearer ${k.key}` }, { 'x-api-key': k.key }] as Array<Record<string, string>>) {
    const res = await fetch(`${gw.url}/api/me`, { headers })
    t.equal(res.status, 200)
    const text = await res.text()
    t.same(JSON.parse(text), {
      user: { id: user.id, email: 'Ada@Example.com', name: 'Ada', role: 'admin', kind: 'human' },
      key: { id: k.keyId, name: 'laptop', mcpServerIds: ['a', 'b'], expiresAt: '2099-01-02T03:04:05.000Z', createdAt: new Date(record!.createdAt).toISOString() },
      limits: []
    })
    t.notOk(text.includes(record!.secretHash), 'no hash')
    t.notOk(text.includes('argon2'), 'nothing hash-like')
    t.notOk(text.includes(k.secret.slice(0, 40)), 'no secret')
  }

  // A service account: its kind, and no email (''), as stored.
  const bot = await createTestUser(store, { email: '', name: 'ci-bot', kind: 'service' })
  const botKey = await createTestKey(store, { user: bot, name: 'ci', mcpServerIds: ['a'] })
  const botMe = await fetch(`${gw.url}/api/me`, { headers: { authorization: `Bearer ${botKey.key}` } })
  t.equal(botMe.status, 200)
  t.same((await botMe.json() as { user: unknown }).user, { id: bot.id, email: '', name: 'ci-bot', role: 'user', kind: 'service' }, 'a service account says so')

  const none = await fetch(`${gw.url}/api/me`)
  t.equal(none.status, 401)
  const missing = `An API key is required. ${keyHint(undefined)}`
  t.same(await none.json(), { statusCode: 401, code: 'MCPGATE_KEY_MISSING', error: 'Unauthorized', message: missing, error_description: missing })

  // The key is cached (the requests above), so authentication needs no I/O; the metadata does.
  await store.close()
  const down = await fetch(`${gw.url}/api/me`, { headers: { authorization: `Bearer ${k.key}` } })
  t.equal(down.status, 503, 'store unavailable: 503, not a stale or empty answer')
  t.match(await down.json(), { code: 'MCPGATE_STORE_UNAVAILABLE' })
})
