// The bench's steal figure (bench/procs.ts): the share of a core's time the hypervisor gave to
// another tenant between two /proc/stat readings.
import t from 'tap'
import { cpuTicks, stealPct } from '../../bench/procs.ts'

t.test('steal share from two readings', async t => {
  //             user nice sys idle iowait irq softirq steal
  const before = [[100, 0, 50, 800, 0, 0, 10, 40], [0, 0, 0, 0, 0, 0, 0, 0]]
  const after = [[160, 0, 70, 880, 0, 0, 10, 80], [0, 0, 0, 0, 0, 0, 0, 0]]
  t.equal(stealPct(before, after, 0), 20, '40 of 200 ticks')
  t.equal(stealPct(before, after, 1), null, 'no time passed')
  t.equal(stealPct(before, after, 2), null, 'no such core')
  t.equal(stealPct(before, after, undefined), null, 'no pinning')
  t.equal(stealPct([[1, 2, 3, 4]], [[2, 3, 4, 5]], 0), null, 'no steal column')
})

t.test('this machine\'s /proc/stat has a row per core with a steal column', async t => {
  const rows = cpuTicks()
  t.ok(rows.length >= 1)
  for (const row of rows) t.ok(row.length >= 8 && row.every(Number.isFinite))
})
