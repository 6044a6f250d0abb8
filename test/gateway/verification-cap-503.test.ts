// Concurrent argon2 verifications beyond guards.maxConcurrentVerifications answer 503
// MCPGATE_OVERLOADED with Retry-After instead of queueing CPU work.
import t from 'tap'
import { DEFAULT_ARGON2 } from '../../core/hashing.ts'
import { createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

t.test('verifications beyond the cap → 503 MCPGATE_OVERLOADED', async t => {
  const upstream = await startRawUpstream(t, (_req, res) => { res.end('{}') })
  const store = await sqliteStore(t)
  const config = testConfig({ hashing: DEFAULT_ARGON2, gateway: { guards: { maxConcurrentVerifications: 1 } }, servers: [{ id: 'up', url: `${upstream.origin}/mcp` }] })
  const gw = await startGateway(t, { store, config })
  const keys = await Promise.all(Array.from({ length: 8 }, () => createTestKey(store, { hashing: DEFAULT_ARGON2 })))

  const results = await Promise.all(keys.map(async k => {
    const res = await fetch(gw.mcpUrl('up'), { method: 'POST', headers: { authorization: `Bearer ${k.key}` }, body: '{}' })
    const body = await res.json() as { error?: { data: { code: string } } }
    return { status: res.status, retryAfter: res.headers.get('retry-after'), code: body.error?.data.code, challenge: res.headers.get('www-authenticate') }
  }))
  const overloaded = results.filter(r => r.status === 503)
  t.ok(results.some(r => r.status === 200), 'some verified')
  t.ok(overloaded.length > 0, `some refused (${overloaded.length} of 8)`)
  for (const r of overloaded) t.same(r, { status: 503, retryAfter: '1', code: 'MCPGATE_OVERLOADED', challenge: null })
  t.equal(gw.app.mcpgate.stats.argon2Verifications, 8 - overloaded.length, 'refused requests cost no argon2')

  // Nothing was remembered as a failure: the same keys work when retried one at a time.
  for (const k of keys) {
    t.equal((await fetch(gw.mcpUrl('up'), { method: 'POST', headers: { authorization: `Bearer ${k.key}` }, body: '{}' })).status, 200)
  }
})
