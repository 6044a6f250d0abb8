// Single-flight: 100 concurrent first requests of one key share exactly one argon2 verification.
import t from 'tap'
import { DEFAULT_ARGON2 } from '../../core/hashing.ts'
import { createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

t.test('100 concurrent first requests → exactly one argon2 verification', async t => {
  const upstream = await startRawUpstream(t, (_req, res) => { res.end('{}') })
  const store = await sqliteStore(t)
  // Real (slow) argon2 parameters so the verification is in flight while the others arrive.
  const config = testConfig({ hashing: DEFAULT_ARGON2, gateway: { guards: { maxConcurrentVerifications: 1 } }, servers: [{ id: 'up', url: `${upstream.origin}/mcp` }] })
  const gw = await startGateway(t, { store, config })
  const { key } = await createTestKey(store, { hashing: DEFAULT_ARGON2 })

  const statuses = await Promise.all(Array.from({ length: 100 }, () =>
    fetch(gw.mcpUrl('up'), { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: '{}' }).then(r => r.status)))
  t.same(new Set(statuses), new Set([200]), 'all 100 succeed (even with a cap of 1 verification)')
  t.equal(gw.app.mcpgate.stats.argon2Verifications, 1, 'exactly one argon2 verification')
  t.equal(upstream.requests.length, 100)
})
