// What both services' /metrics share: a per-app prom-client Registry (never the global one, so
// several apps can live in one process, as in tests) with the process defaults, and a counter that
// mirrors a plain number the code already keeps, read at scrape time instead of on the hot path.
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client'

export function createRegistry (): Registry {
  const registry = new Registry()
  // process_cpu_seconds_total, process_resident_memory_bytes, nodejs_eventloop_lag_*, nodejs_gc_* …
  collectDefaultMetrics({ register: registry })
  return registry
}

/** A counter whose value is `read()` at scrape time; `read` must never decrease. */
export function mirroredCounter (registry: Registry, name: string, help: string, read: () => number): Counter {
  let last = 0
  return new Counter({
    name,
    help,
    registers: [registry],
    collect () {
      const now = read()
      if (now > last) this.inc(now - last)
      last = now
    }
  })
}

/** A gauge set from state the code already holds, at scrape time. */
export function collectedGauge<L extends string = never> (registry: Registry, options: {
  name: string
  help: string
  labelNames?: readonly L[]
  collect: (gauge: Gauge<L>) => void
}): Gauge<L> {
  const { collect, ...rest } = options
  return new Gauge<L>({ ...rest, registers: [registry], collect () { collect(this) } })
}
