// An open-loop flood of bad keys at a fixed rate, from several loopback source addresses
// (127.0.0.2, …) as a botnet would come from many IPs, so the per-IP failure budget alone cannot
// absorb it. Runs in its own process; reports the status codes it got back over IPC.
//
// It shares a core with the load generator whose latency it perturbs, so it is built to cost
// little: raw keep-alive sockets, every request serialized once at start, one pacing timer, a
// response parser that only reads the status line and content-length, and pipelining (Node
// servers answer pipelined requests in order) so a tick's requests leave in one write.
import { readFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { pathToFileURL } from 'node:url'
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
  /** Answers by status code; connection failures by error code (a request sent on a connection that failed counts once). */
  statuses: Record<string, number>
  durationS: number
  /** The generator's own CPU time (user + system, all threads) from the first request to the end, µs. */
  cpuUs: number
}

/** Keep-alive connections per source address. */
export const CONNECTIONS_PER_SOURCE = 2
/** Requests pipelined on one connection before it counts as full. */
export const MAX_IN_FLIGHT_PER_CONNECTION = 16
/**
 * Pacing period: the requests due leave every TICK_MS (5 at a time at 500/s). Every wake-up of
 * the generator costs ~70–100 µs of CPU on the bench VM, whatever it does: at 500 req/s a 10 ms
 * tick cost ~85 µs of CPU per request, a 5 ms tick ~135, a 20 ms one ~70 (interleaved runs).
 */
const TICK_MS = 10
/** How long the answers still in flight may take once the flood has ended. */
const DRAIN_MS = 5000

const CRLF2 = Buffer.from('\r\n\r\n')

/** Request bytes for one key: request line, headers, body. */
export function serializeRequest (url: URL, headers: Record<string, string>, body: string, key: string): Buffer {
  const bodyBytes = Buffer.from(body)
  const skip = new Set(['host', 'authorization', 'content-length', 'connection', 'transfer-encoding'])
  const lines = [
    `POST ${url.pathname}${url.search} HTTP/1.1`,
    `host: ${url.host}`,
    ...Object.entries(headers).filter(([k]) => !skip.has(k.toLowerCase())).map(([k, v]) => `${k}: ${v}`),
    `authorization: Bearer ${key}`,
    `content-length: ${bodyBytes.length}`
  ]
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n'), bodyBytes])
}

/**
 * Counts HTTP/1.1 responses on one connection, however the bytes are split into chunks: only
 * the status code and content-length are read, the body is skipped. Returns false when a
 * response cannot be delimited (no content-length, chunked): the connection is then unusable.
 */
export class ResponseCounter {
  #head: Buffer | null = null
  #bodyLeft = 0

  constructor (private readonly onResponse: (status: number) => void) {}

  push (chunk: Buffer): boolean {
    let buf = chunk
    for (;;) {
      if (this.#bodyLeft > 0) {
        if (buf.length <= this.#bodyLeft) { this.#bodyLeft -= buf.length; return true }
        buf = buf.subarray(this.#bodyLeft)
        this.#bodyLeft = 0
      }
      if (buf.length === 0) return true
      if (this.#head !== null) { buf = Buffer.concat([this.#head, buf]); this.#head = null }
      const end = buf.indexOf(CRLF2)
      if (end === -1) { this.#head = Buffer.from(buf); return true }
      const head = buf.toString('latin1', 0, end)
      const status = Number(head.slice(9, 12))
      const length = /\r\ncontent-length:[ \t]*(\d+)/i.exec(head)
      if (!(status >= 100 && status < 600)) return false
      if (length !== null) this.#bodyLeft = Number(length[1])
      else if (status !== 204 && status !== 304 && status >= 200) return false
      // 1xx answers are interim: the final answer to the same request follows.
      if (status >= 200) this.onResponse(status)
      buf = buf.subarray(end + 4)
    }
  }
}

interface Connection {
  localAddress: string
  socket: Socket | null
  inFlight: number
}

export async function flood (spec: FloodSpec, onStarted: () => void = () => {}): Promise<FloodResult> {
  const url = new URL(spec.url)
  const port = Number(url.port || 80)
  const keys = readFileSync(spec.keysFile, 'utf8').split('\n').filter(l => l !== '')
  if (keys.length === 0) throw new Error(`flood: no keys in ${spec.keysFile}`)
  const requests = keys.map(k => serializeRequest(url, spec.headers, spec.body, k))
  const statuses: Record<string, number> = {}
  const tally = (name: string, n = 1) => { statuses[name] = (statuses[name] ?? 0) + n }
  let sent = 0
  let skipped = 0
  let inFlight = 0
  let k = 0
  let onIdle: (() => void) | null = null

  const conns: Connection[] = []
  for (let c = 0; c < CONNECTIONS_PER_SOURCE; c++) {
    for (let s = 0; s < spec.sources; s++) conns.push({ localAddress: `127.0.0.${s + 2}`, socket: null, inFlight: 0 })
  }

  const settle = (conn: Connection, n: number) => {
    conn.inFlight -= n
    inFlight -= n
    if (inFlight === 0 && onIdle !== null) onIdle()
  }

  /** The connection's socket, opened (again) on demand: a failed connection is replaced on its next request. */
  const socketOf = (conn: Connection): Socket => {
    if (conn.socket !== null) return conn.socket
    const socket = connect({ host: url.hostname, port, localAddress: conn.localAddress, noDelay: true })
    const counter = new ResponseCounter(status => {
      tally(String(status))
      settle(conn, 1)
    })
    let failure = 'closed'
    const fail = (reason: string) => {
      failure = reason
      socket.destroy()
    }
    socket.on('data', chunk => { if (!counter.push(chunk)) fail('unparsable') })
    socket.on('error', (err: Error & { code?: string }) => { failure = err.code ?? err.name })
    socket.on('close', () => {
      if (conn.socket === socket) conn.socket = null
      // Every request still waiting on this connection is lost: one error each.
      if (conn.inFlight > 0) {
        tally(failure, conn.inFlight)
        settle(conn, conn.inFlight)
      }
    })
    conn.socket = socket
    return socket
  }

  let next = 0
  /** The next connection with room for a request, round-robin over connections (and so over sources). */
  const pick = (): Connection | null => {
    for (let i = 0; i < conns.length; i++) {
      const conn = conns[(next + i) % conns.length] as Connection
      if (conn.inFlight < MAX_IN_FLIGHT_PER_CONNECTION) {
        next = (next + i + 1) % conns.length
        return conn
      }
    }
    return null
  }

  const cpu0 = process.cpuUsage()
  const start = performance.now()
  const end = start + spec.durationS * 1000
  const total = Math.round(spec.durationS * spec.rate)
  onStarted()
  await new Promise<void>(resolve => {
    const tick = () => {
      const now = performance.now()
      const dueSoFar = now >= end ? total : Math.min(total, Math.floor((now - start) / 1000 * spec.rate))
      let due = dueSoFar - sent - skipped
      // A tick's requests go to one connection (one write) while it has room, then the next one.
      while (due > 0) {
        const conn = pick()
        if (conn === null) { skipped += due; break }
        const socket = socketOf(conn)
        let n = Math.min(due, MAX_IN_FLIGHT_PER_CONNECTION - conn.inFlight)
        due -= n
        conn.inFlight += n
        inFlight += n
        sent += n
        if (n === 1) socket.write(requests[k++ % requests.length] as Buffer)
        else {
          socket.cork()
          while (n-- > 0) socket.write(requests[k++ % requests.length] as Buffer)
          socket.uncork()
        }
      }
      if (now >= end) {
        clearInterval(timer)
        resolve()
      }
    }
    const timer = setInterval(tick, TICK_MS)
    tick()
  })

  // Let the answers still in flight arrive (bounded), so every sent request is counted.
  if (inFlight > 0) {
    await new Promise<void>(resolve => {
      const timer = setTimeout(resolve, DRAIN_MS)
      onIdle = () => { clearTimeout(timer); resolve() }
    })
  }
  onIdle = null
  if (inFlight > 0) tally('unanswered', inFlight)
  const durationS = (performance.now() - start) / 1000
  const cpu = process.cpuUsage(cpu0)
  for (const conn of conns) {
    conn.inFlight = 0
    conn.socket?.destroy()
  }
  return { sent, skipped, statuses, durationS, cpuUs: cpu.user + cpu.system }
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href
if (isMain) {
  const spec = JSON.parse(process.argv[2] ?? '{}') as FloodSpec
  const result = await flood(spec, () => announceReady(0))
  if (process.send !== undefined) process.send({ result }, () => process.exit(0))
  else {
    process.stdout.write(JSON.stringify(result) + '\n')
    process.exit(0)
  }
}
