// Timing of refusals once the guards have kicked in: the median response time of a wrong secret
// (for a keyId whose budget is spent, cached or not), an unknown keyId and a malformed key differ
// by less than 1 ms over 1,000 requests each. Measured in-process with fastify inject (no network
// noise) on a real redis-server store, with real argon2 cost, classes interleaved round-robin so
// drift hits all alike. What the timing does reveal before the guards is measured and reported.
import t, { type Test } from 'tap'
import { DEFAULT_ARGON2 } from '../../core/hashing.ts'
import { checksumOf, generateKey, randomBase62 } from '../../core/key-format.ts'
import { createTestKey, startGateway, testConfig, type TestKey } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { redisStore, testRedis } from '../helpers/stores.ts'

const ROUNDS = 1000
const FAILURES_PER_KEY_ID = 10

function wrongSecret (k: TestKey): string {
  const body = k.key.slice(0, k.key.length - k.secret.length) + randomBase62(40)
  return body + checksumOf(body)
}

/** Same shape as a key, checksum wrong: refused by the parser. */
function malformed (k: TestKey): string {
  const body = k.key.slice(0, k.key.length - k.secret.length) + randomBase62(40)
  const sum = checksumOf(body)
  return body + (sum[0] === 'A' ? 'B' : 'A') + sum.slice(1)
}

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}

const fmt = (ms: number): string => `${(ms * 1000).toFixed(0)} µs`

async function measure (t: Test, failuresPerIp: number) {
  const redis = await testRedis(t)
  const store = await redisStore(t, redis, { commandTimeoutMs: 2000 })
  const upstream = await startRawUpstream(t, (_req, res) => { res.end('{}') })
  const gw = await startGateway(t, {
    store,
    config: testConfig({
      hashing: DEFAULT_ARGON2,
      gateway: { guards: { failuresPerKeyId: FAILURES_PER_KEY_ID, failuresPerIp, failureWindowMs: 600_000 } },
      log: { level: 'silent', accessLog: false },
      servers: [{ id: 'alpha', url: `${upstream.origin}/mcp` }]
    })
  })
  const uncached = await createTestKey(store, { hashing: DEFAULT_ARGON2 })
  const cached = await createTestKey(store, { hashing: DEFAULT_ARGON2 })

  const send = async (key: string) => {
    const start = process.hrtime.bigint()
    const res = await gw.app.inject({ method: 'POST', url: '/mcp-connect/alpha', headers: { authorization: `Bearer ${key}` }, payload: '{}' })
    return { ms: Number(process.hrtime.bigint() - start) / 1e6, status: res.statusCode }
  }
  t.equal((await send(cached.key)).status, 200, 'one key is in use (cached)')

  // Before the guards: what an attacker holding a keyId can observe, for at most the budget.
  const early = { wrong: [] as number[], unknown: [] as number[] }
  for (let i = 0; i < FAILURES_PER_KEY_ID; i++) {
    early.wrong.push((await send(wrongSecret(uncached))).ms)
    early.unknown.push((await send(generateKey(uncached.user.id).key)).ms)
    await send(wrongSecret(cached))
  }
  t.comment(`before the guards (${FAILURES_PER_KEY_ID} tries): wrong secret for an existing uncached keyId ${fmt(median(early.wrong))} (argon2), unknown keyId ${fmt(median(early.unknown))} (one store read)`)

  const classes: Record<string, () => string> = {
    'wrong secret, keyId not cached': () => wrongSecret(uncached),
    'wrong secret, keyId cached': () => wrongSecret(cached),
    'unknown keyId': () => generateKey(uncached.user.id).key,
    malformed: () => malformed(uncached)
  }
  const names = Object.keys(classes)
  const times: Record<string, number[]> = Object.fromEntries(names.map(n => [n, []]))
  const statuses: Record<string, Set<number>> = Object.fromEntries(names.map(n => [n, new Set<number>()]))
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(round + i) % names.length] as string
      const r = await send((classes[name] as () => string)())
      times[name]?.push(r.ms)
      statuses[name]?.add(r.status)
    }
  }
  const medians = Object.fromEntries(names.map(n => [n, median(times[n] as number[])]))
  t.comment(`after the guards, medians over ${ROUNDS} each: ${names.map(n => `${n} ${fmt(medians[n] as number)} (${[...(statuses[n] as Set<number>)].join('/')})`).join('; ')}`)
  const spread = Math.max(...Object.values(medians)) - Math.min(...Object.values(medians))
  t.ok(spread < 1, `medians differ by ${fmt(spread)} (< 1 ms)`)
  return statuses
}

t.test('one client under the default per-IP budget: everything but malformed is 429', async t => {
  const statuses = await measure(t, 30)
  t.same([...statuses['unknown keyId'] as Set<number>], [429], 'unknown keyIds are 429 too once the IP budget is spent')
  t.same([...statuses.malformed as Set<number>], [401], 'malformed keys are refused by the parser, before any budget')
})

t.test('many clients (no per-IP budget reached): unknown keyIds still cost one store read', async t => {
  const statuses = await measure(t, 1_000_000_000)
  t.same([...statuses['wrong secret, keyId not cached'] as Set<number>], [429], 'a spent keyId answers 429 from memory')
  t.same([...statuses['unknown keyId'] as Set<number>], [401], 'each unknown keyId is one store read, then 401')
})
