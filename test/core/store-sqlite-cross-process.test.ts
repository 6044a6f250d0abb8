// SQLite invalidation across processes: a key deleted by another process (the CLI while the
// gateway runs) reaches this process's subscriber within 100 ms, via the polled log table.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { sqliteStore } from '../helpers/stores.ts'
import { EventRecorder, keyRecord, newUser } from './store-contract.ts'

const WRITER = fileURLToPath(new URL('../fixtures/sqlite-writer.ts', import.meta.url))

t.test('a key deleted by another process is announced here within 100 ms', async t => {
  const store = await sqliteStore(t)
  const owner = await store.createUser(newUser())
  const key = keyRecord(owner.id)
  await store.createKey(key)
  const rec = new EventRecorder()
  t.teardown(store.subscribe(rec))
  let eventAt = 0
  const seen = rec.event(e => e.type === 'key' && e.keyId === key.id, 'the key event from the other process', 10_000)
    .then(() => { eventAt = Date.now() })

  const writer = spawn(process.execPath, ['--import', 'tsx', WRITER, store.path, key.id], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => { writer.kill() })
  let output = ''
  writer.stdout.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
  const [code] = await once(writer, 'exit') as [number | null]
  t.equal(code, 0, 'the writer exited cleanly')
  const m = /^deleted (\d+)$/m.exec(output)
  t.ok(m, `the writer reports the deletion (${output.trim()})`)
  const deletedAt = Number(m?.[1])

  await seen
  const latency = eventAt - deletedAt
  t.comment(`event delivered ${latency} ms after the other process committed the delete`)
  t.ok(latency < 100, `delivered within 100 ms (${latency} ms)`)
  t.same(rec.events, [{ type: 'key', keyId: key.id }], 'exactly that event, once')
  t.equal(await store.getKey(key.id), null, 'and the key is gone for this process too')
})
