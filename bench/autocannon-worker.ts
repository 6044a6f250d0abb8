// The autocannon fallback of bench/load.ts, in its own process so the load generator never
// shares the runner's event loop. Argument: a LoadSpec as JSON; prints `ACJSON <LoadResult>`.
import { readFileSync } from 'node:fs'
import autocannon from 'autocannon'
import type { LoadResult, LoadSpec } from './load.ts'

const spec = JSON.parse(process.argv[2] ?? '{}') as LoadSpec
const keys = spec.keysFile === undefined ? [] : readFileSync(spec.keysFile, 'utf8').split('\n').filter(l => l !== '')
let i = Math.floor(Math.random() * Math.max(keys.length, 1))

const result = await autocannon({
  url: spec.url,
  connections: spec.connections,
  duration: spec.durationS,
  method: spec.method,
  body: spec.body,
  headers: spec.headers,
  requests: keys.length === 0
    ? undefined
    : [{
        setupRequest: (req) => {
          i = (i + 1) % keys.length
          return { ...req, headers: { ...req.headers, authorization: `Bearer ${keys[i]}` } }
        }
      }]
})

// autocannon records latency in milliseconds; the bench reports microseconds.
const out: LoadResult = {
  tool: 'autocannon',
  requests: result.requests.total,
  rps: result.requests.total / (result.duration || spec.durationS),
  p50: result.latency.p50 * 1000,
  p90: result.latency.p90 * 1000,
  p99: result.latency.p99 * 1000,
  max: result.latency.max * 1000,
  non2xx: result.non2xx,
  errors: result.errors + result.timeouts
}
process.stdout.write(`ACJSON ${JSON.stringify(out)}\n`)
