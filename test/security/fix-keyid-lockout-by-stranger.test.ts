// Hardening drill, finding 2: anyone who knew a keyId (it is in the first 35 characters of the
// key: logs, screenshots, tickets) could lock the real key out — ten wrong secrets a minute gave
// the owner's valid key 429 on every replica where it was not cached. Now the failure budget is
// per (keyId, client IP): the attacker's address is throttled, the owner's is not. An attack on
// one keyId from many addresses spends its all-address budget, after which the keyId is verified
// in a slow lane (one verification a second), never locked: the owner still gets in.
import t, { type Test } from 'tap'
import { ManualClock } from '../../core/clock.ts'
import { checksumOf } from '../../core/key-format.ts'
import { createTestKey, startGateway, testConfig, type TestKey } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

function withWrongSecret (k: TestKey, n: number): string {
  const body = k.key.slice(0, k.key.length - k.secret.length) + `w${n}`.padEnd(40, 'x').slice(0, 40)
  return body + checksumOf(body)
}

async function setup (t: Test) {
  const clock = new ManualClock()
  const upstream = await startRawUpstream(t, (_req, res) => { res.end('{}') })
  const store = await sqliteStore(t, { clock })
  const gw = await startGateway(t, {
    store,
    clock,
    config: testConfig({
      // Behind a load balancer: the client address comes from X-Forwarded-For.
      gateway: { trustProxy: true, guards: { failuresPerKeyId: 3, failuresPerKeyIdAllIps: 6, failuresPerIp: 1000, maxVerificationsPerSecond: 1000, failureWindowMs: 60_000 } },
      servers: [{ id: 'up', url: `${upstream.origin}/mcp` }]
    })
  })
  const send = async (key: string, ip: string) => {
    const res = await fetch(gw.mcpUrl('up'), { method: 'POST', headers: { authorization: `Bearer ${key}`, 'x-forwarded-for': ip }, body: '{}' })
    const body = await res.json() as { error?: { data: { code: string } } }
    return { status: res.status, code: body.error?.data.code }
  }
  return { clock, store, gw, send }
}

t.test('a stranger with the keyId throttles only their own address', async t => {
  const { store, send } = await setup(t)
  const key = await createTestKey(store)
  for (let i = 0; i < 3; i++) t.equal((await send(withWrongSecret(key, i), '203.0.113.66')).status, 401, `wrong secret ${i + 1}: 401`)
  t.same(await send(withWrongSecret(key, 9), '203.0.113.66'), { status: 429, code: 'MCPGATE_RATE_LIMITED' }, 'the attacker\'s address is throttled on that keyId')
  t.same(await send(key.key, '198.51.100.7'), { status: 200, code: undefined }, 'the owner, from another address, gets in on first use')
})

t.test('an attack from many addresses slows the keyId to a lane of one a second, it never locks it', async t => {
  const { clock, store, send } = await setup(t)
  const key = await createTestKey(store)
  // Six addresses, one wrong secret each: the keyId's all-address budget (6) is spent.
  for (let i = 0; i < 6; i++) t.equal((await send(withWrongSecret(key, i), `203.0.113.${i + 1}`)).status, 401, `address ${i + 1}: 401`)
  // The slow lane: one verification now (an attacker takes it), then 429 for everyone this second.
  t.equal((await send(withWrongSecret(key, 20), '203.0.113.50')).status, 401, 'one attempt passes the lane…')
  t.same(await send(withWrongSecret(key, 21), '203.0.113.51'), { status: 429, code: 'MCPGATE_RATE_LIMITED' }, '…the next in the same second waits')
  t.same(await send(key.key, '198.51.100.7'), { status: 429, code: 'MCPGATE_RATE_LIMITED' }, 'the owner waits too (a bounded rate, shared)')
  clock.advance(1000)
  t.same(await send(key.key, '198.51.100.7'), { status: 200, code: undefined }, 'a second later the owner gets in')
  t.same(await send(key.key, '198.51.100.7'), { status: 200, code: undefined }, 'and stays in: the key is cached')
})
