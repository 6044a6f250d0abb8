// Keeps the bench from rotting: one reduced run of bench/run.ts (tiny durations, few keys) must
// produce a number for every target and figure, and write the Markdown report.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { TARGET_LABELS, type TargetName } from '../../bench/results.ts'
import { QUICK, runBench } from '../../bench/run.ts'

// The reduced run takes ~60 s on an idle 2-core machine; tap's 120 s per file (package.json) was
// hit when the machine was shared with other loads, so this file gets more.
t.setTimeout(300_000)

const finite = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v)

t.test('a reduced bench run reports numbers for every target', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'mcpgate-bench-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const out = join(dir, 'RESULTS.md')
  const r = await runBench({
    ...QUICK,
    durationS: 1,
    warmupS: 0,
    reps: 1,
    totalKeys: 2000,
    activeKeys: 500,
    coldKeys: 2,
    floodVictims: 4,
    floodRate: 200,
    sseSingleRuns: 2,
    sseRounds: 1,
    sseConcurrent: 8,
    revocationTrials: 10,
    idleStreams: 200,
    streamCutTrials: 5,
    out,
    jsonOut: null,
    log: line => t.comment(line)
  })

  for (const target of Object.keys(TARGET_LABELS) as TargetName[]) {
    if (target === 'nginx' && r.skipped.nginx !== undefined) {
      t.equal(r.skipped.nginx, 'skipped: nginx not installed', 'nginx is recorded as skipped')
      continue
    }
    for (const c of r.settings.concurrency) {
      const cell = r.throughput[target]?.[c]
      t.ok(cell !== undefined && cell.rps.median > 0, `${target} c=${c}: req/s`)
      t.ok(cell !== undefined && finite(cell.p50.median) && finite(cell.p99.median), `${target} c=${c}: p50 and p99`)
      t.equal(cell?.runs.reduce((n, run) => n + run.non2xx + run.errors, 0), 0, `${target} c=${c}: every answer 2xx`)
    }
    t.ok(finite(r.rssMB[target]?.underLoad), `${target}: RSS under load`)
    if (target !== 'mcpgate100k') {
      t.ok(finite(r.sse[target]?.single.ttfbMs.median) && finite(r.sse[target]?.concurrent.gapP99Ms), `${target}: SSE figures`)
    }
  }
  t.ok(finite(r.rssMB.mcpgate100kCachedIdle), 'RSS with every key cached')
  t.same(r.errors, {}, 'no section failed')
  t.ok(r.coldKey !== null && r.coldKey.samples === 2 && r.coldKey.p50Ms > 0, 'cold-key latency')
  t.ok(r.flood !== null && finite(r.flood.p99ChangePct) && r.flood.wrongSecretFlood.sent > 0, 'flood figures')
  t.equal(r.flood?.validNon2xx, 0, 'valid requests beside the flood all answered 200')
  t.ok(r.flood !== null && finite(r.flood.phases.alone.cpuUsPerValid?.median) && r.flood.cpuRatioPerRound.wrongSecret.length === 1 && r.flood.cpuRatioPerRound.wrongSecret.every(finite),
    'the gateway\'s CPU per valid request, and its ratio to alone for the round')
  t.ok(r.revocation !== null && finite(r.revocation.everywhere.p99) && r.revocation.timeouts === 0, 'revocation lag')
  const idle = r.streams?.idle
  t.ok(idle != null && idle.opened.every(n => n === 200) && idle.gateway.openStreamsGauge === 200, 'idle streams: all held, and counted by the gateway')
  // ~2 descriptors a stream (client and upstream socket); "before" may still count a few sockets of the load run.
  t.ok(idle != null && finite(idle.gateway.rssWithMB[0]) && idle.gateway.fdsPerStream >= 1.8, 'idle streams: RSS, and descriptors for both ends of every stream')
  t.ok(idle != null && finite(idle.load.ratio.p99) && finite(idle.load.ratioOther.p99) && idle.load.non2xx + idle.load.errors === 0,
    'idle streams: c=10 alone, beside them to the same server and to another, every answer 2xx')
  t.same(idle?.busyProbe.answers, { '503 MCPGATE_UPSTREAM_BUSY': 4 }, 'idle streams: one more stream per server past its budget is refused')
  const cuts = r.streams?.cuts
  t.ok(cuts != null && finite(cuts.cut.p99) && cuts.timeouts === 0 && cuts.cleanEnds === 15, 'stream cuts: every stream ended cleanly after its key was deleted')
  t.equal(r.checks.length, 8, 'every target of the issue is evaluated')
  for (const c of r.checks) {
    if (c.met === null) t.match(c.name, /nginx/, `${c.name}: only nginx comparisons may be unmeasurable`)
  }
  const md = readFileSync(out, 'utf8')
  t.match(md, /QUICK MODE/, 'the report says it is a quick run')
  t.match(md, /## Targets/, 'the report has the targets table')
  t.match(md, /## Open streams on one gateway/, 'the report has the idle streams section')
  t.match(md, /## Stream cut after a key delete/, 'the report has the stream cut section')
})
