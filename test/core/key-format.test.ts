// Property tests of the API key format: round trips, single-character damage, totality.
import t from 'tap'
import fc from 'fast-check'
import { CHECKSUM_LENGTH, KEY_MAX_LENGTH, generateKey, newKeyId, newUserId, parseKey, randomBase62 } from '../../core/key-format.ts'

const base62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
const userIdArb = fc.string({ unit: fc.constantFrom(...base62), minLength: 1, maxLength: 32 })

t.test('generate → parse round-trips for any valid userId', async t => {
  fc.assert(fc.property(userIdArb, userId => {
    const g = generateKey(userId)
    const r = parseKey(g.key)
    return r.ok && r.key.userId === userId && r.key.keyId === g.keyId && r.key.secret === g.secret
  }), { numRuns: 2000 })
  const g = generateKey('u1')
  t.match(g.key, /^ok1-u1-[A-Za-z0-9]{16}-[A-Za-z0-9]{46}$/)
  t.equal(g.secret.length, 46)
})

t.test('any single-character substitution is rejected', async t => {
  const keyArb = userIdArb.map(u => generateKey(u).key)
  fc.assert(fc.property(keyArb, fc.nat(), fc.constantFrom(...base62, '-', '_', ' ', 'é'), (key, pos, ch) => {
    const i = pos % key.length
    fc.pre(key[i] !== ch)
    const damaged = key.slice(0, i) + ch + key.slice(i + 1)
    return !parseKey(damaged).ok
  }), { numRuns: 5000 })
  t.pass('5000 substitutions rejected')
})

t.test('truncation and extension are rejected', async t => {
  const keyArb = userIdArb.map(u => generateKey(u).key)
  fc.assert(fc.property(keyArb, fc.nat(), (key, n) => {
    const cut = n % key.length
    return !parseKey(key.slice(0, cut)).ok
  }), { numRuns: 2000 })
  fc.assert(fc.property(keyArb, fc.string({ minLength: 1, maxLength: 8 }), (key, extra) => !parseKey(key + extra).ok && !parseKey(extra + key).ok), { numRuns: 2000 })
  t.pass('truncations and extensions rejected')
})

t.test('arbitrary input up to 64 KiB never throws and gives a reason', async t => {
  fc.assert(fc.property(fc.string({ maxLength: 65536 }), s => {
    const r = parseKey(s)
    return r.ok || typeof r.reason === 'string'
  }), { numRuns: 300 })
  fc.assert(fc.property(fc.anything(), v => { parseKey(v); return true }), { numRuns: 500 })
  t.same(parseKey('x'.repeat(65536)), { ok: false, reason: 'too_long' })
  t.same(parseKey(undefined), { ok: false, reason: 'empty' })
  t.same(parseKey('ok1-a-b'), { ok: false, reason: 'bad_shape' })
  t.equal(parseKey('ok1-' + 'a'.repeat(33) + '-' + newKeyId() + '-' + randomBase62(46)).ok, false)
  t.ok(KEY_MAX_LENGTH < 200)
})

t.test('checksum catches a typo that keeps every segment well-formed', async t => {
  const g = generateKey(newUserId())
  const last = g.key.at(-CHECKSUM_LENGTH - 1) === 'a' ? 'b' : 'a'
  const typo = g.key.slice(0, -CHECKSUM_LENGTH - 1) + last + g.key.slice(-CHECKSUM_LENGTH)
  t.same(parseKey(typo), { ok: false, reason: 'bad_checksum' })
})

t.test('keyIds and secrets look random (no repeats in 10,000)', async t => {
  const ids = new Set(Array.from({ length: 10000 }, () => newKeyId()))
  t.equal(ids.size, 10000)
})
