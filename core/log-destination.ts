// pino destination for the gateway's log lines: lines are copied into reusable 64 KiB buffers and
// written to the file descriptor in batches, asynchronously. pino's own sonic-boom appends each
// line to a growing string and measures it (`Buffer.byteLength`), which flattens that string on
// every line: ~6 KB of garbage and a copy of up to 16 KB per access line, most of the gateway's
// logging cost, and garbage that lives long enough to be promoted to the old generation.
import { write, writeSync } from 'node:fs'

const CHUNK_BYTES = 64 * 1024
/** Past this much unwritten output (a stuck stdout), new lines are dropped and counted. */
const MAX_PENDING_BYTES = 16 * 1024 * 1024
/** A non-blocking fd that is full (EAGAIN) is retried after this long. */
const RETRY_MS = 10

interface Chunk {
  buf: Buffer
  used: number
}

export class BufferedLogDestination {
  readonly #fd: number
  readonly #minLength: number
  #current: Chunk = newChunk()
  /** Sealed chunks, oldest first; the first one is being written while #writing. */
  readonly #queue: Chunk[] = []
  #spare: Chunk | null = null
  #writing = false
  #pendingBytes = 0
  #dropped = 0
  #waiting: Array<(err?: Error) => void> = []

  /** Writes start once `minLength` bytes are buffered (or on flush()). */
  constructor (fd = 1, minLength = 4096) {
    this.#fd = fd
    this.#minLength = minLength
  }

  get dropped (): number { return this.#dropped }

  /** One log line (pino passes it with its newline). */
  write (line: string): boolean {
    if (this.#pendingBytes + this.#current.used > MAX_PENDING_BYTES) {
      this.#dropped++
      return false
    }
    // A UTF-8 byte is at most 3 per UTF-16 unit: room for that many, or the line starts a new chunk.
    if (this.#current.buf.length - this.#current.used < line.length * 3) {
      this.#seal()
      if (line.length * 3 > CHUNK_BYTES) this.#current = { buf: Buffer.allocUnsafeSlow(line.length * 3), used: 0 }
    }
    this.#current.used += this.#current.buf.write(line, this.#current.used)
    // Sealed chunks count too: a minLength above CHUNK_BYTES still starts a write once reached.
    if (!this.#writing && this.#pendingBytes + this.#current.used >= this.#minLength) this.#next()
    return true
  }

  /** Starts writing everything buffered; `cb` runs once it is all written (or failed). */
  flush (cb?: (err?: Error) => void): void {
    if (cb !== undefined) this.#waiting.push(cb)
    if (!this.#writing) this.#next()
  }

  /** Everything buffered, written before returning (process exit). */
  flushSync (): void {
    this.#seal()
    // The chunk being written asynchronously (the first, while #writing) is finished by its callback.
    for (const chunk of this.#queue.splice(this.#writing ? 1 : 0)) {
      writeAllSync(this.#fd, chunk.buf, chunk.used)
      this.#pendingBytes -= chunk.used
    }
  }

  #seal (): void {
    if (this.#current.used === 0) return
    this.#queue.push(this.#current)
    this.#pendingBytes += this.#current.used
    this.#current = this.#spare ?? newChunk()
    this.#spare = null
  }

  #next (): void {
    this.#seal()
    const chunk = this.#queue[0]
    if (chunk === undefined) {
      this.#writing = false
      this.#settle()
      return
    }
    this.#writing = true
    this.#writeFrom(chunk, 0)
  }

  #writeFrom (chunk: Chunk, offset: number): void {
    write(this.#fd, chunk.buf, offset, chunk.used - offset, null, (err, written) => {
      if (err !== null) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
          setTimeout(() => { this.#writeFrom(chunk, offset) }, RETRY_MS).unref()
          return
        }
        // stdout is gone (EPIPE, EBADF): the chunk cannot be written anywhere; do not crash over it.
        this.#done(chunk)
        return
      }
      if (offset + written < chunk.used) this.#writeFrom(chunk, offset + written)
      else this.#done(chunk)
    })
  }

  #done (chunk: Chunk): void {
    this.#queue.shift()
    this.#pendingBytes -= chunk.used
    chunk.used = 0
    if (chunk.buf.length === CHUNK_BYTES) this.#spare = chunk
    if (this.#dropped > 0 && this.#pendingBytes === 0) {
      const notice = JSON.stringify({ level: 40, time: Date.now(), msg: 'log lines dropped: the log output could not keep up', dropped: this.#dropped }) + '\n'
      this.#dropped = 0
      this.write(notice)
    }
    if (this.#queue.length > 0 || this.#current.used >= this.#minLength || this.#waiting.length > 0) this.#next()
    else this.#writing = false
  }

  #settle (): void {
    const waiting = this.#waiting
    if (waiting.length === 0) return
    this.#waiting = []
    for (const cb of waiting) cb()
  }
}

/** Partial writes continued; a full non-blocking fd (EAGAIN) retried a bounded number of times. */
function writeAllSync (fd: number, buf: Buffer, length: number): void {
  let offset = 0
  for (let again = 0; offset < length && again < 1000;) {
    try {
      offset += writeSync(fd, buf, offset, length - offset)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return // nowhere left to write to
      again++
    }
  }
}

function newChunk (): Chunk {
  return { buf: Buffer.allocUnsafeSlow(CHUNK_BYTES), used: 0 }
}
