// SQLite invalidation log with several connections on one file: every event reaches a
// subscriber exactly once whether this connection or another wrote it, and a gap in the log
// (rows pruned before they were read) makes the subscriber resync.
import t from 'tap'
import { ManualClock } from '../../core/clock.ts'
import type { InvalidationEvent } from '../../core/store/store.ts'
import { sqliteStore } from '../helpers/stores.ts'
import { EventRecorder } from './store-contract.ts'

const key = (e: InvalidationEvent): string => JSON.stringify(e)

t.test('own and other connections\' events are each delivered once', async t => {
  const mine = await sqliteStore(t)
  const other = await sqliteStore(t, { path: mine.path })
  const rec = new EventRecorder()
  t.teardown(mine.subscribe(rec))
  const expected: InvalidationEvent[] = []
  for (let i = 0; i < 30; i++) {
    const event: InvalidationEvent = { type: 'user', userId: `u${i}` }
    expected.push(event)
    // Interleave writers, sometimes several foreign writes before a poll could run.
    await (i % 3 === 0 ? mine : other).publish(event)
    if (i === 0) t.same(rec.events, [event], 'own writes are delivered at once, without waiting for a poll')
  }
  await rec.until('all 30 events', () => rec.events.length >= 30)
  await mine.publish({ type: 'all' })
  await other.publish({ type: 'user', userId: 'last' })
  await rec.event(e => e.type === 'user' && e.userId === 'last', 'the last foreign event')
  const all: InvalidationEvent[] = [...expected, { type: 'all' }, { type: 'user', userId: 'last' }]
  t.same(rec.events.map(key).sort(), all.map(key).sort(), 'each event exactly once')
  t.equal(rec.resyncs, 1, 'no resync without a gap')
})

t.test('a pruned, unread row makes the subscriber resync', async t => {
  const clock = new ManualClock()
  const mine = await sqliteStore(t)
  const other = await sqliteStore(t, { path: mine.path, clock })
  const rec = new EventRecorder()
  t.teardown(mine.subscribe(rec))
  t.equal(rec.resyncs, 1, 'onResync on subscribe')
  // Both writes happen before this process's poll timer can run: the first row is pruned
  // (older than the retention) by the second write before anyone here read it.
  await other.publish({ type: 'user', userId: 'lost' })
  clock.advance(11 * 60_000)
  await other.publish({ type: 'user', userId: 'kept' })
  await rec.until('a resync for the lost row', () => rec.resyncs === 2)
  t.same(rec.events, [{ type: 'user', userId: 'kept' }], 'the surviving row is delivered')
})
