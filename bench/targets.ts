// The targets (issue 23), each evaluated from one run's figures: for mcpgate in the
// report's headline table, and for the reference (f), to show which of them this stack can meet
// here at all. Pure functions of a run's results.
import type { BenchResults, TargetCheck, TargetName } from './results.ts'
import { round } from './stats.ts'

/** The targets, each evaluated from this run's figures (null: not measurable here). */
export function evaluate (r: BenchResults): TargetCheck[] {
  const checks = proxyChecks(r, 'mcpgate')
  const add = checkAdder(checks)
  add('wrong-secret flood: change of valid-key p99, c=10', '< 20 %', r.flood?.p99ChangePct, ' %', v => v < 20)
  add('RSS under load with 100k keys cached', '≤ 200 MB', r.rssMB.mcpgate100k?.underLoad ?? undefined, ' MB', v => v <= 200)
  add(`revocation lag p99, ${r.settings.replicas} replicas on Redis (refused everywhere)`, '< 100 ms', r.revocation?.everywhere.p99, ' ms', v => v < 100)
  return checks
}

/**
 * The targets any proxy can be scored on (throughput, latency, SSE), for `subject`: mcpgate for
 * the table, and the reference (f) to show which of them this stack can meet at all here.
 */
export function proxyChecks (r: BenchResults, subject: TargetName): TargetCheck[] {
  const rps = (t: TargetName, c: number) => r.throughput[t]?.[c]?.rps.median
  const p50 = (t: TargetName, c: number) => r.throughput[t]?.[c]?.p50.median
  const p99 = (t: TargetName, c: number) => r.throughput[t]?.[c]?.p99.median
  const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined) ? undefined : a / b
  const checks: TargetCheck[] = []
  const add = checkAdder(checks)
  add('cached-key throughput vs bare @fastify/http-proxy, c=10', '≥ 1.3×', ratio(rps(subject, 10), rps('bare', 10)), '×', v => v >= 1.3)
  add('cached-key throughput vs nginx, c=10', '≥ 0.45×', ratio(rps(subject, 10), rps('nginx', 10)), '×', v => v >= 0.45)
  const added = (p50(subject, 1) !== undefined && p50('direct', 1) !== undefined) ? (p50(subject, 1) as number) - (p50('direct', 1) as number) : undefined
  add('p50 added over direct, c=1', '≤ 250 µs', added, ' µs', v => v <= 250)
  add('p99 vs nginx, c=10', '≤ 2×', ratio(p99(subject, 10), p99('nginx', 10)), '×', v => v <= 2)
  add('SSE time to first byte vs nginx (1 stream, median)', '≤ 1.5×', ratio(r.sse[subject]?.single.ttfbMs.median, r.sse.nginx?.single.ttfbMs.median), '×', v => v <= 1.5)
  return checks
}

function checkAdder (checks: TargetCheck[]) {
  return (name: string, target: string, value: number | undefined, unit: string, met: (v: number) => boolean): void => {
    const measured = value !== undefined && !Number.isNaN(value)
    checks.push({ name, target, value: measured ? `${round(value, 2)}${unit}` : 'n/a', met: measured ? met(value) : null })
  }
}
