// An open-loop flood of bad keys at a fixed rate, from several loopback source addresses
// (127.0.0.2, …) as a botnet would come from many IPs, so the per-IP failure budget alone cannot
// absorb it. Runs in its own process; reports the status codes it got back over IPC.
import { readFileSync } from 'node:fs'
import { Pool } from 'undici'
import { announceReady } from './child.ts'

export interface FloodSpec {
  url: string
  /** Requests per second, open loop. */
  rate: number
  durationS: number
  keysFile: string
  /** Number of source addresses 127.0.0.2 … */
  sources: number
  body: string
  headers: Record<string, string>
}

export interface FloodResult {
  sent: number
  /** Requests skipped because too many were already in flight (the target could not keep up). */
  skipped: number
  statuses: Record<string, number>
  durationS: number
}

const MAX_IN_FLIGHT = 512

async function flood (spec: FloodSpec): Promise<FloodResult> {
  const keys = readFileSync(spec.keysFile, 'utf8').split('\n').filter(l => l !== '')
  const url = new URL(spec.url)
  const pools = Array.from({ length: spec.sources }, (_, i) => new Pool(url.origin, {
    connections: 8,
    localAddress: `127.0.0.${i + 2}`
  }))
  const statuses: Record<string, number> = {}
  let sent = 0
  let skipped = 0
  let inFlight = 0
  let k = 0
  const one = (pool: Pool) => {
    inFlight++
    const key = keys[k++ % keys.length] as string
    pool.request({
      method: 'POST',
      path: url.pathname,
      headers: { ...spec.headers, authorization: `Bearer ${key}` },
      body: spec.body
    }).then(async res => {
      statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1
      await res.body.dump()
    }, (err: Error & { code?: string }) => {
      const name = err.code ?? err.name
      statuses[name] = (statuses[name] ?? 0) + 1
    }).finally(() => { inFlight-- })
  }
  const start = performance.now()
  const end = start + spec.durationS * 1000
  announceReady(0)
  await new Promise<void>(resolve => {
    const tick = () => {
      const now = performance.now()
      const due = Math.floor((Math.min(now, end) - start) / 1000 * spec.rate) - sent - skipped
      for (let i = 0; i < due; i++) {
        if (inFlight >= MAX_IN_FLIGHT) skipped++
        else { one(pools[(sent + skipped) % pools.length] as Pool); sent++ }
      }
      if (now >= end) resolve()
      else setTimeout(tick, 2)
    }
    tick()
  })
  // Let the answers still in flight arrive (bounded), so every sent request is counted.
  const drainUntil = performance.now() + 5000
  for (;;) {
    if (inFlight === 0 || performance.now() > drainUntil) break
    await new Promise(resolve => setTimeout(resolve, 10))
  }
  await Promise.all(pools.map(p => p.destroy()))
  return { sent, skipped, statuses, durationS: (performance.now() - start) / 1000 }
}

const spec = JSON.parse(process.argv[2] ?? '{}') as FloodSpec
const result = await flood(spec)
if (process.send !== undefined) process.send({ result }, () => process.exit(0))
else {
  process.stdout.write(JSON.stringify(result) + '\n')
  process.exit(0)
}
