// lastUsedAt is recorded off the request path: requests never write to the store; a timer writes
// one batch every gateway.lastUsedFlushMs, and closing the gateway writes what is left.
import t from 'tap'
import { ManualClock } from '../../core/clock.ts'
import { createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

async function poll (fn: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (!(await fn())) {
    if (Date.now() > deadline) return false
    await new Promise(resolve => setTimeout(resolve, 10))
  }
  return true
}

t.test('flushed on close, never per request', async t => {
  const clock = new ManualClock()
  const upstream = await startRawUpstream(t, (_req, res) => { res.end('{}') })
  const store = await sqliteStore(t, { clock })
  const gw = await startGateway(t, { store, clock, config: testConfig({ gateway: { lastUsedFlushMs: 3600_000 }, servers: [{ id: 'up', url: `${upstream.origin}/mcp` }] }) })
  const k = await createTestKey(store, { clock })
  for (let i = 0; i < 20; i++) {
    clock.advance(1000)
    t.equal((await fetch(gw.mcpUrl('up'), { method: 'POST', headers: { authorization: `Bearer ${k.key}` }, body: '{}' })).status, 200)
  }
  t.equal((await store.getKey(k.keyId))?.lastUsedAt, null, 'twenty requests, no store write')
  t.equal(gw.app.mcpgate.lastUsed.pendingCount, 1, 'one pending entry for the key')
  const lastRequestAt = clock.now()
  clock.advance(5000)
  await gw.app.close()
  t.equal((await store.getKey(k.keyId))?.lastUsedAt, lastRequestAt, 'written on close, with the time of the last request')
})

t.test('flushed in batches on the timer', async t => {
  const clock = new ManualClock()
  const upstream = await startRawUpstream(t, (_req, res) => { res.end('{}') })
  const store = await sqliteStore(t, { clock })
  const gw = await startGateway(t, { store, clock, config: testConfig({ gateway: { lastUsedFlushMs: 50 }, servers: [{ id: 'up', url: `${upstream.origin}/mcp` }] }) })
  const keys = await Promise.all([1, 2, 3].map(() => createTestKey(store, { clock })))
  for (const k of keys) await (await fetch(gw.mcpUrl('up'), { method: 'POST', headers: { 'x-api-key': k.key }, body: '{}' })).text()
  const at = clock.now()
  t.ok(await poll(async () => {
    const recorded = await Promise.all(keys.map(async k => (await store.getKey(k.keyId))?.lastUsedAt))
    return recorded.every(v => v === at)
  }, 5000), 'all three written by the timer')
  t.equal(gw.app.mcpgate.lastUsed.pendingCount, 0)
})
