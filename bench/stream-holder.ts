// Holds thousands of idle SSE streams open through a gateway, for bench/streams.ts: one raw TCP
// socket per stream (no HTTP client objects: a few KB each, so this process stays small), a GET
// with `Accept: text/event-stream` written once, the status line read, then nothing but waiting.
// Commands come over the IPC channel: `{ open: HoldSpec }` → `{ opened: OpenResult }`,
// `{ close: true }` → `{ closed: CloseResult }`. Exits with the runner.
import { connect, type Socket } from 'node:net'
import { announceReady, exitWithParent } from './child.ts'

export interface HoldSpec {
  port: number
  /** Request paths, used round-robin: stream i goes to paths[i % paths.length]. */
  paths: string[]
  key: string
  streams: number
  /** Connections being opened at once (the gateway's listen backlog is 511). */
  concurrency: number
  /** A stream whose response headers have not come by then counts as failed. */
  timeoutMs: number
}

export interface OpenResult {
  opened: number
  /** Status (or error code) → count, for the streams that did not open with 200. */
  failed: Record<string, number>
  ms: number
}

export interface CloseResult {
  closed: number
  /** Streams the other side ended or reset while they were held: none is expected. */
  endedWhileHeld: number
}

const held = new Set<Socket>()
let endedWhileHeld = 0

/** Opens one stream; resolves with 200 (held from then on) or what went wrong instead. */
function openOne (spec: HoldSpec, path: string): Promise<string> {
  return new Promise(resolve => {
    const socket = connect({ host: '127.0.0.1', port: spec.port, noDelay: true })
    let head = ''
    let settled = false
    const done = (outcome: string) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      if (outcome === '200') held.add(socket)
      else socket.destroy()
      resolve(outcome)
    }
    const timer = setTimeout(() => done('timeout'), spec.timeoutMs)
    socket.setEncoding('latin1')
    socket.on('connect', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${spec.port}\r\nAuthorization: Bearer ${spec.key}\r\nAccept: text/event-stream\r\n\r\n`)
    })
    socket.on('data', (chunk: string) => {
      if (settled) return
      head += chunk
      const eol = head.indexOf('\r\n')
      if (eol === -1) return
      const status = /^HTTP\/1\.1 (\d{3})/.exec(head.slice(0, eol))?.[1] ?? 'bad status line'
      // Only the status line is needed; the body (none, or a comment) is ignored from here on.
      head = ''
      done(status)
    })
    socket.on('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message))
    socket.on('close', () => {
      if (!settled) done('closed before answering')
      else if (held.delete(socket)) endedWhileHeld++
    })
  })
}

async function open (spec: HoldSpec): Promise<OpenResult> {
  const t0 = performance.now()
  const failed: Record<string, number> = {}
  let opened = 0
  let next = 0
  const worker = async () => {
    while (next < spec.streams) {
      const i = next++
      const outcome = await openOne(spec, spec.paths[i % spec.paths.length] as string)
      if (outcome === '200') opened++
      else failed[outcome] = (failed[outcome] ?? 0) + 1
    }
  }
  await Promise.all(Array.from({ length: Math.min(spec.concurrency, spec.streams) }, worker))
  return { opened, failed, ms: Math.round(performance.now() - t0) }
}

function close (): CloseResult {
  const closed = held.size
  const result = { closed, endedWhileHeld }
  for (const socket of held) socket.destroy()
  held.clear()
  endedWhileHeld = 0
  return result
}

process.on('message', (msg: { open?: HoldSpec, close?: boolean }) => {
  if (process.send === undefined) return
  if (msg?.open !== undefined) {
    open(msg.open).then(opened => process.send?.({ opened }), (err: unknown) => process.send?.({ error: String(err) }))
  } else if (msg?.close === true) {
    process.send({ closed: close() })
  }
})
announceReady(0)
exitWithParent(() => { close() })
