// The JSON written by hand once per request (the access line's strings, audit events) is exactly
// what JSON.stringify writes, for any string and any event.
import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import t from 'tap'
import { AUDIT_FIELDS_WRITTEN, auditJson, type AuditEvent } from '../../core/audit.ts'
import { jsonString } from '../../core/json-text.ts'

t.test('jsonString is JSON.stringify for any string', async t => {
  for (const s of ['', 'plain', 'a"b', 'back\\slash', 'tab\there', 'nl\n', '\u0000', '\u007f', 'é', '😀', '\ud800', '\u2028']) {
    t.equal(jsonString(s), JSON.stringify(s), `code units ${[...s].map(c => c.charCodeAt(0)).join(' ')}`)
  }
  fc.assert(fc.property(fc.string({ unit: 'binary' }), s => jsonString(s) === JSON.stringify(s)), { numRuns: 5000 })
  t.pass('5,000 arbitrary strings (any code unit, lone surrogates included) matched')
})

const optional = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(arb, { nil: undefined })
const text = fc.string({ unit: 'binary', maxLength: 40 })
const event: fc.Arbitrary<AuditEvent> = fc.record({
  time: fc.integer({ min: 0, max: 4_000_000_000_000 }),
  requestId: text,
  keyId: fc.option(text, { nil: null }),
  userId: fc.option(text, { nil: null }),
  secretGeneration: optional(fc.nat(1000)),
  serverId: fc.option(text, { nil: null }),
  method: text,
  name: optional(text),
  outcome: fc.constantFrom('allowed', 'denied', 'error'),
  code: optional(text),
  status: fc.integer({ min: 100, max: 599 }),
  durationMs: fc.integer({ min: 0, max: 10_000_000 }).map(n => n / 10),
  bytesIn: fc.nat(),
  bytesOut: fc.nat(),
  session: optional(text),
  ip: text,
  userAgent: optional(text),
  arguments: optional(fc.jsonValue())
}) as fc.Arbitrary<AuditEvent>

t.test('auditJson is the event as JSON, whole or without the columns', async t => {
  fc.assert(fc.property(event, e => {
    const whole = JSON.parse(auditJson(e)) as Record<string, unknown>
    const expected = JSON.parse(JSON.stringify(e)) as Record<string, unknown>
    if (!isDeepStrictEqual(whole, expected)) return false
    const rest = JSON.parse(auditJson(e, true)) as Record<string, unknown>
    for (const column of ['time', 'keyId', 'userId', 'serverId', 'method', 'name', 'outcome']) {
      if (column in rest) return false
      delete expected[column]
    }
    return isDeepStrictEqual(rest, expected)
  }), { numRuns: 2000 })
  t.pass('2,000 arbitrary events: the same fields and values as JSON.stringify gives')

  const full: Required<AuditEvent> = { id: '7', time: 1, requestId: 'r', keyId: 'k', userId: 'u', secretGeneration: 2, serverId: 's', method: 'tools/call', name: 'n', outcome: 'denied', code: 'C', status: 200, durationMs: 1.5, bytesIn: 3, bytesOut: 4, session: 'abc', ip: '::1', userAgent: 'ua', arguments: { a: [1] } }
  t.same(Object.keys(full).sort(), [...AUDIT_FIELDS_WRITTEN].sort(), 'every field of an event is one auditJson writes')
  const { id, ...stored } = full
  t.equal(id, '7')
  t.same(JSON.parse(auditJson(full)), stored, 'all of them but the store\'s id')
})
