// An audit row's `event` JSON holds only what its columns do not (time, key, user, server, method,
// name and outcome are columns): half the bytes per insert. Rows written before, whose JSON is the
// whole event, read the same; both kinds come back as the event that was appended.
import { join } from 'node:path'
import Database from 'better-sqlite3'
import t from 'tap'
import type { AuditEvent } from '../../core/audit.ts'
import { SqliteStore } from '../../core/store/sqlite.ts'
import { tempDir } from '../helpers/stores.ts'

const RETENTION = { olderThan: 0, maxEvents: 1000 }

const event = (i: number): AuditEvent => ({
  time: 1_700_000_000_000 + i,
  requestId: `req-${i}`,
  keyId: 'key1',
  userId: 'ada1',
  secretGeneration: 1,
  serverId: 'docs',
  method: 'tools/call',
  name: 'search',
  outcome: 'denied',
  code: 'MCPGATE_TOOL_NOT_ALLOWED',
  status: 200,
  durationMs: 1.5,
  bytesIn: 120,
  bytesOut: 80,
  session: '0123456789abcdef',
  ip: '127.0.0.1',
  userAgent: 'tap',
  arguments: { q: 'x' }
})

t.test('new rows store the rest as JSON and read back whole; rows of the old shape read the same', async t => {
  const path = join(tempDir(t), 'audit.db')
  const store = new SqliteStore({ path })
  t.teardown(() => store.close())
  await store.appendAudit([event(1), { ...event(2), name: undefined, keyId: null, userId: null, secretGeneration: undefined, method: 'unknown', outcome: 'allowed', code: undefined, session: undefined, userAgent: undefined, arguments: undefined }], RETENTION)

  const raw = new Database(path, { readonly: true })
  const json = raw.prepare<[], string>('SELECT event FROM audit_events ORDER BY seq').pluck().all()
  raw.close()
  const first = JSON.parse(json[0] as string) as Record<string, unknown>
  t.same(Object.keys(first).sort(), ['arguments', 'bytesIn', 'bytesOut', 'code', 'durationMs', 'ip', 'requestId', 'secretGeneration', 'session', 'status', 'userAgent'], 'the JSON holds only what no column holds')

  // A row as the store wrote it before: the whole event in the JSON.
  const old = new Database(path)
  const e3 = event(3)
  old.prepare('INSERT INTO audit_events (at, key_id, user_id, server_id, method, name, outcome, event) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
    .run(e3.time, e3.keyId, e3.userId, e3.serverId, e3.method, e3.name, e3.outcome, JSON.stringify(e3))
  old.close()

  const page = await store.listAudit({ limit: 10 })
  const items = page.items.map(({ id, ...rest }) => rest)
  t.equal(page.items.length, 3)
  t.ok(page.items.every(e => typeof e.id === 'string'), 'each has its id')
  t.same(items[0], event(3), 'an old row: the whole event')
  t.same(items[2], event(1), 'a new row: the whole event, columns and JSON together')
  t.same(items[1], { time: event(2).time, requestId: 'req-2', keyId: null, userId: null, serverId: 'docs', method: 'unknown', outcome: 'allowed', status: 200, durationMs: 1.5, bytesIn: 120, bytesOut: 80, ip: '127.0.0.1' }, 'absent fields stay absent')
  t.notOk('name' in (items[1] as object), 'no name when the column is NULL')

  const usage = await store.keyUsage('key1', event(0).time - 3_600_000, event(10).time)
  t.same(usage.lastUsed, null, 'no allowed use of key1 yet: the denied calls are not uses')
  await store.appendAudit([{ ...event(4), outcome: 'allowed', code: undefined }], RETENTION)
  const used = await store.keyUsage('key1', event(0).time - 3_600_000, event(10).time)
  t.same(used.lastUsed, { time: event(4).time, ip: '127.0.0.1', userAgent: 'tap' }, 'last used: the time from its column, the rest from the JSON')
})
