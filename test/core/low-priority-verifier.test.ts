// The gateway's argon2 verifier: same answers as verifySecret, on worker threads running at nice
// 19 (so a flood of verifications yields the CPU to proxied requests), and gone after close().
import { readdirSync, readFileSync } from 'node:fs'
import t from 'tap'
import { hashSecret } from '../../core/hashing.ts'
import { LowPriorityVerifier } from '../../core/low-priority-verifier.ts'

const CHEAP = { memoryCost: 1024, timeCost: 1, parallelism: 1 }

/** nice of every thread of this process (field 19 of /proc/self/task/<tid>/stat). */
function threadNices (): number[] {
  return readdirSync('/proc/self/task').map(tid => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return Number(fields[16])
  })
}

t.test('verifies like verifySecret, on threads at nice 19', async t => {
  const verifier = new LowPriorityVerifier(2)
  t.teardown(() => verifier.close())
  const phc = await hashSecret('right secret', CHEAP)
  const before = threadNices().filter(n => n === 19).length

  t.equal(await verifier.verify(phc, 'right secret'), true, 'the right secret')
  t.equal(await verifier.verify(phc, 'wrong secret'), false, 'a wrong secret')
  t.equal(await verifier.verify('not a phc string', 'x'), false, 'a malformed stored hash is a failed verification')
  const results = await Promise.all(Array.from({ length: 8 }, (_, i) => verifier.verify(phc, i % 2 === 0 ? 'right secret' : 'nope')))
  t.same(results, [true, false, true, false, true, false, true, false], 'concurrent verifications each get their own answer')

  if (process.platform === 'linux') {
    t.equal(threadNices().filter(n => n === 19).length - before, 2, 'two worker threads (the size given), both at nice 19')
    t.equal(threadNices()[0], 0, 'the main thread keeps its priority')
  }
})

t.test('close() ends the workers; later calls still answer (in process)', async t => {
  const verifier = new LowPriorityVerifier(1)
  const phc = await hashSecret('s', CHEAP)
  t.equal(await verifier.verify(phc, 's'), true)
  const niceBefore = threadNices().filter(n => n === 19).length
  await verifier.close()
  if (process.platform === 'linux') t.equal(threadNices().filter(n => n === 19).length, niceBefore - 1, 'its thread is gone')
  t.equal(await verifier.verify(phc, 's'), true, 'after close: verified in process')
  t.equal(await verifier.verify(phc, 'x'), false)
})

t.test('an idle worker exits after idleMs, and the next verification starts one again', async t => {
  const verifier = new LowPriorityVerifier(1, { idleMs: 50 })
  t.teardown(() => verifier.close())
  const phc = await hashSecret('s', CHEAP)
  t.equal(await verifier.verify(phc, 's'), true)
  t.equal(verifier.threads, 1, 'one worker while in use')
  const deadline = Date.now() + 10_000
  while (verifier.threads > 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 10))
  t.equal(verifier.threads, 0, 'gone once idle')
  t.equal(await verifier.verify(phc, 's'), true, 'verified by a new worker')
  t.equal(await verifier.verify(phc, 'x'), false)
  t.equal(verifier.threads, 1)
})
