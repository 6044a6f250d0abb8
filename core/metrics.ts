// What both services' /metrics share: a per-app prom-client Registry (never the global one, so
// several apps can live in one process, as in tests) with the process defaults, and a counter that
// mirrors a plain number the code already keeps, read at scrape time instead of on the hot path.
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client'

/**
 * How often the event-loop lag is sampled (ms). Each sample is a timer that wakes the loop:
 * prom-client's default of 10 ms, once per registry (the gateway's and the admin API's share a
 * process under `mcpgate start`), made an idle process's main thread wake ~130 times a second (~50
 * now, test/ops/idle-process-wakeups.test.ts). At 100 ms the lag metrics still see every stall
 * longer than a sample period; shorter ones are seen only when a sample falls in them.
 */
export const EVENT_LOOP_SAMPLE_MS = 100

export function createRegistry (): Registry {
  const registry = new Registry()
  // process_cpu_seconds_total, process_resident_memory_bytes, nodejs_eventloop_lag_*, nodejs_gc_* …
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS })
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

/**
 * A labelled counter for the hot path: each count is a Map lookup by a key the caller builds from
 * the label values, where prom-client's `inc(labels)` validates and hashes the labels object on
 * every call. The counts are handed to prom-client at scrape time. Keys must identify their
 * labels exactly, and come from closed sets (they are never evicted).
 */
export class TallyCounter<L extends string> {
  readonly #tally = new Map<string, { labels: Partial<Record<L, string>>, count: number, reported: number }>()

  constructor (registry: Registry, options: { name: string, help: string, labelNames: readonly L[] }) {
    const tally = this.#tally
    new Counter<L>({ // eslint-disable-line no-new -- registered, read at scrape time
      ...options,
      registers: [registry],
      collect () {
        for (const entry of tally.values()) {
          if (entry.count > entry.reported) this.inc(entry.labels, entry.count - entry.reported)
          entry.reported = entry.count
        }
      }
    })
  }

  /** Counts one for `key`; false (and nothing counted) the first time a key is seen: call add(). */
  inc (key: string): boolean {
    const entry = this.#tally.get(key)
    if (entry === undefined) return false
    entry.count++
    return true
  }

  /** Counts the first one for a new key, with the labels it stands for. */
  add (key: string, labels: Partial<Record<L, string>>): void {
    this.#tally.set(key, { labels, count: 1, reported: 0 })
  }
}
