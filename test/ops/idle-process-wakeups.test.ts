// An idle `mcpgate start` (gateway and admin API in one process, SQLite store) lets its CPU sleep:
// its main thread wakes well under 100 times a second. Each wake-up is a voluntary context switch
// of that thread (it blocks in epoll until a timer or a socket needs it), counted by Linux in
// /proc/<pid>/task/<pid>/status. prom-client's event-loop lag sampling at its default 10 ms, once
// per registry, made it ~130 a second; the SQLite invalidation poll (25 ms) is most of what is left.
import { readFileSync } from 'node:fs'
import { setTimeout as delay } from 'node:timers/promises'
import t from 'tap'
import { tempDir } from '../helpers/stores.ts'
import { ADMIN_TOKEN, startMcpgate, waitReady, writeConfig } from '../helpers/processes.ts'

const WINDOW_MS = 2000
const MAX_WAKEUPS_PER_S = 90

function voluntarySwitches (pid: number): number {
  const status = readFileSync(`/proc/${pid}/task/${pid}/status`, 'utf8')
  const m = /^voluntary_ctxt_switches:\s*(\d+)$/m.exec(status)
  if (m === null) throw new Error(`no voluntary_ctxt_switches in /proc/${pid}/task/${pid}/status`)
  return Number(m[1])
}

t.test('an idle mcpgate start wakes under 90 times a second', async t => {
  const dir = tempDir(t, 'mcpgate-idle-')
  const mcpgate = await startMcpgate(t, 'start', writeConfig(t, {
    gateway: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0, token: ADMIN_TOKEN },
    store: { type: 'sqlite', path: `${dir}/idle.db` },
    servers: [{ id: 'up', url: 'http://127.0.0.1:9/mcp' }],
    log: { level: 'warn' }
  }))
  await Promise.all([waitReady(mcpgate.url), waitReady(mcpgate.adminUrl as string)])
  const pid = mcpgate.child.pid as number
  // A measurement window (nothing is awaited but time): the switches the idle process makes in it.
  const before = voluntarySwitches(pid)
  await delay(WINDOW_MS)
  const perSecond = (voluntarySwitches(pid) - before) / (WINDOW_MS / 1000)
  t.ok(perSecond < MAX_WAKEUPS_PER_S, `main thread wake-ups: ${perSecond}/s (limit ${MAX_WAKEUPS_PER_S})`)
  t.ok(perSecond > 0, 'the counter moves (the SQLite poll wakes it)')
})
