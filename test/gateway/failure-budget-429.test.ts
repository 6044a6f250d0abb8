// Failure budgets per keyId and per client IP: once spent, 429 + Retry-After before any argon2
// work (verifications counted); keys already cached keep working; the window resets on the clock.
import t from 'tap'
import type { Test } from 'tap'
import { ManualClock } from '../../core/clock.ts'
import { checksumOf, generateKey, newKeyId } from '../../core/key-format.ts'
import { createTestKey, startGateway, testConfig, type TestKey } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

function withWrongSecret (k: TestKey, fill: string): string {
  const body = k.key.slice(0, k.key.length - k.secret.length) + fill.repeat(40).slice(0, 40)
  return body + checksumOf(body)
}

async function setup (t: Test, guards: { failuresPerKeyId: number, failuresPerIp: number }) {
  const clock = new ManualClock()
  const upstream = await startRawUpstream(t, (_req, res) => { res.end('{}') })
  const store = await sqliteStore(t, { clock })
  const gw = await startGateway(t, {
    store,
    clock,
    config: testConfig({ gateway: { guards: { ...guards, failureWindowMs: 60_000 } }, servers: [{ id: 'up', url: `${upstream.origin}/mcp` }] })
  })
  const send = async (key: string) => {
    const res = await fetch(gw.mcpUrl('up'), { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: '{}' })
    const body = await res.json() as { error?: { data: { code: string } } }
    // 429 is not an authentication challenge: never WWW-Authenticate on it.
    if (res.status === 429 && res.headers.get('www-authenticate') !== null) throw new Error('429 with WWW-Authenticate')
    return { status: res.status, retryAfter: res.headers.get('retry-after'), code: body.error?.data.code }
  }
  return { clock, store, gw, send, upstream }
}

t.test('per keyId', async t => {
  const { clock, store, gw, send } = await setup(t, { failuresPerKeyId: 3, failuresPerIp: 1000 })
  const target = await createTestKey(store, { clock })
  const stats = gw.app.mcpgate.stats

  for (const fill of ['A', 'B', 'C']) {
    t.equal((await send(withWrongSecret(target, fill))).code, 'MCPGATE_KEY_INVALID')
  }
  t.equal(stats.argon2Verifications, 3, 'three failed verifications')
  t.same(await send(withWrongSecret(target, 'D')), { status: 429, retryAfter: '60', code: 'MCPGATE_RATE_LIMITED' }, 'budget spent: 429')
  t.same(await send(target.key), { status: 429, retryAfter: '60', code: 'MCPGATE_RATE_LIMITED' }, 'even the right key, while uncached')
  t.equal(stats.argon2Verifications, 3, 'no argon2 while limited')

  clock.advance(30_000)
  t.equal((await send(withWrongSecret(target, 'E'))).retryAfter, '30', 'Retry-After counts down with the window')
  clock.advance(30_000)
  t.equal((await send(target.key)).status, 200, 'window over: the right key works')

  // Cached keys are served from memory, guards never apply to them.
  const cached = await createTestKey(store, { clock })
  t.equal((await send(cached.key)).status, 200)
  const before = stats.argon2Verifications
  for (const fill of ['F', 'G', 'H', 'I', 'J']) await send(withWrongSecret(cached, fill))
  t.equal(stats.argon2Verifications, before, 'wrong secrets for a cached keyId cost no argon2 (digest mismatch)')
  t.equal((await send(withWrongSecret(cached, 'K'))).status, 429, 'but they spend the budget')
  t.equal((await send(cached.key)).status, 200, 'and the cached owner is not locked out')
})

t.test('per client IP', async t => {
  const { clock, store, gw, send, upstream } = await setup(t, { failuresPerKeyId: 1000, failuresPerIp: 5 })
  const stats = gw.app.mcpgate.stats
  const owner = await createTestKey(store, { clock })
  t.equal((await send(owner.key)).status, 200, 'a key cached before the attack')

  for (let i = 0; i < 5; i++) {
    t.equal((await send(generateKey(owner.user.id, newKeyId()).key)).code, 'MCPGATE_KEY_INVALID', `unknown keyId ${i}`)
  }
  t.equal(stats.argon2Verifications, 1, 'unknown keyIds are answered from the store read, no argon2')
  const limited = await send(generateKey(owner.user.id, newKeyId()).key)
  t.same(limited, { status: 429, retryAfter: '60', code: 'MCPGATE_RATE_LIMITED' }, 'the IP spent its budget')
  const fresh = await createTestKey(store, { clock })
  t.equal((await send(fresh.key)).status, 429, 'an uncached key from that IP waits too')
  t.equal((await send(owner.key)).status, 200, 'a cached key from that IP is still served')
  clock.advance(60_000)
  t.equal((await send(fresh.key)).status, 200, 'window over')
  t.equal(upstream.requests.length, 3)
})
