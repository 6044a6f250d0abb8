// A key's open streams end at its expiresAt (DESIGN: "Streams"), on the injected clock, not at the
// next request: a stream opened a millisecond before expiry ends when the clock reaches it, and a
// key without expiry keeps its stream. No sleeps: the manual clock is advanced past the expiry.
import t from 'tap'
import { ManualClock } from '../../core/clock.ts'
import { createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { openStream } from '../helpers/mcp-raw.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

t.test('an open stream ends when its key expires', async t => {
  const clock = new ManualClock()
  const upstream = await startRawUpstream(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.write(': open\n\n')
  })
  const store = await sqliteStore(t, { clock })
  const gw = await startGateway(t, { store, clock, config: testConfig({ gateway: { shutdownGraceMs: 100 }, servers: [{ id: 'up', url: `${upstream.origin}/mcp` }] }) })
  const hour = 3600_000
  const expiring = await createTestKey(store, { clock, expiresAt: clock.now() + hour })
  const forever = await createTestKey(store, { clock, user: expiring.user })
  const open = (key: string) => openStream(gw.mcpUrl('up'), { method: 'GET', headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' } })

  const doomed = await open(expiring.key)
  const kept = await open(forever.key)
  await doomed.waitFor(/: open/)
  t.equal(doomed.status, 200, 'opened before expiry')

  clock.advance(hour - 1)
  t.equal(await doomed.ended(100), 'timeout', '1 ms before expiry the stream is open')
  clock.advance(1)
  t.equal(await doomed.ended(), 'end', 'at expiresAt the stream ends cleanly')
  t.equal(await kept.ended(100), 'timeout', 'a key without expiry keeps its stream')
  await upstream.requests[0]?.closed
  t.pass('the upstream request was aborted')
  t.match(gw.logs.text(), new RegExp(`"keyId":"${expiring.keyId}".*"reason":"key_expired"`), 'the cut is logged with its reason')
  kept.close()
})
