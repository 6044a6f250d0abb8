// BufferedLogDestination on real files and a real pipe: order and bytes kept, batching by minLength,
// flushSync at exit, a stuck reader (EAGAIN retried, the 16 MiB cap, the dropped-lines notice) and
// write errors that must not throw.
import { spawnSync } from 'node:child_process'
import { closeSync, constants, fstatSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs'
import { Socket } from 'node:net'
import { join } from 'node:path'
import { setImmediate as turn } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { BufferedLogDestination } from '../../core/log-destination.ts'
import { tempDir } from '../helpers/stores.ts'

const MiB = 1024 * 1024
/** Larger than anything a test writes: no write starts until flush() / flushSync(). */
const NEVER = 1024 * MiB

/** `p`, or a rejection naming `what` after `ms`. */
async function within<T> (ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new Error(`${what}: nothing within ${ms} ms`)) }, ms)
  })
  try {
    return await Promise.race([p, late])
  } finally {
    clearTimeout(timer)
  }
}

/** Resolves with flush's callback argument. */
function flushed (dst: BufferedLogDestination, ms = 20_000): Promise<Error | undefined> {
  return within(ms, 'flush callback', new Promise(resolve => { dst.flush(err => { resolve(err) }) }))
}

/** Polls `check` until true or the deadline. */
async function until (ms: number, what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`)
    await new Promise(resolve => setTimeout(resolve, 2))
  }
}

/** Byte-exact comparison that reports where it differs instead of diffing megabytes. */
function sameBytes (t: Test, actual: Buffer, expected: Buffer, msg: string): void {
  if (actual.equals(expected)) {
    t.pass(msg)
    return
  }
  let at = 0
  while (at < actual.length && at < expected.length && actual[at] === expected[at]) at++
  t.fail(msg, {
    actualBytes: actual.length,
    expectedBytes: expected.length,
    firstDifferenceAt: at,
    actualThere: actual.subarray(at, at + 80).toString(),
    expectedThere: expected.subarray(at, at + 80).toString()
  })
}

/** A temp file opened for appending, closed in teardown; `read()` returns its bytes. */
function tempFile (t: Test): { fd: number, path: string, read: () => Buffer } {
  const path = join(tempDir(t, 'mcpgate-logdest-'), 'out.log')
  const fd = openSync(path, 'a')
  t.teardown(() => { closeSync(fd) })
  return { fd, path, read: () => readFileSync(path) }
}

// Deterministic lines of varying length with 2-, 3- and 4-byte UTF-8 (the emoji is a surrogate pair).
function makeLines (count: number, seed = 1): string[] {
  const pieces = ['a', 'Z', '0', ' ', 'é', '漢', '😀', '"', '\\']
  let x = seed
  const rand = (n: number): number => {
    x = (x * 1103515245 + 12345) % 2147483648
    return x % n
  }
  const lines: string[] = []
  for (let i = 0; i < count; i++) {
    let body = ''
    const len = rand(200)
    for (let j = 0; j < len; j++) body += pieces[rand(pieces.length)]
    lines.push(`{"i":${i},"msg":"${body}"}\n`)
  }
  return lines
}

t.test('many lines reach a file complete, in order and byte-exact after flush(cb)', async t => {
  const out = tempFile(t)
  const dst = new BufferedLogDestination(out.fd, 4096)
  const lines = makeLines(50_000)
  const expected = Buffer.from(lines.join(''))
  t.ok(expected.length > 5 * MiB, `enough output for many 64 KiB chunks (${expected.length} bytes)`)
  let refused = 0
  // In batches with event-loop turns between them, so chunks are written while others fill and a
  // written chunk comes back as the spare.
  for (const [i, line] of lines.entries()) {
    if (!dst.write(line)) refused++
    if (i % 500 === 499) await turn()
  }
  t.equal(refused, 0, 'every line accepted')
  t.equal(await flushed(dst), undefined, 'flush calls back without an error')
  sameBytes(t, out.read(), expected, 'the file holds exactly the lines, in order')
  t.equal(dst.dropped, 0, 'nothing dropped')
})

t.test('nothing is written before minLength bytes are buffered; flush(cb) writes them', async t => {
  const out = tempFile(t)
  const dst = new BufferedLogDestination(out.fd, 4096)
  const small = ['{"a":1}\n', '{"msg":"é漢😀"}\n', '{"b":2}\n']
  t.equal(small.filter(line => !dst.write(line)).length, 0, 'every line accepted')
  // Give any write a chance to happen (it would be queued on the thread pool right away).
  for (let i = 0; i < 20; i++) await turn()
  t.equal(fstatSync(out.fd).size, 0, 'below minLength: nothing written yet')

  t.equal(await flushed(dst), undefined)
  sameBytes(t, out.read(), Buffer.from(small.join('')), 'flush(cb) wrote the buffered lines')

  t.equal(await flushed(dst), undefined, 'flush(cb) with nothing buffered calls back')

  // Crossing minLength starts a write without any flush(); what is buffered after it waits.
  const base = fstatSync(out.fd).size
  const kb = (i: number): string => `{"n":${i},"pad":"${'k'.repeat(1000 - 17)}"}\n`
  t.equal(kb(0).length, 1000)
  for (let i = 0; i < 4; i++) dst.write(kb(i))
  for (let i = 0; i < 20; i++) await turn()
  t.equal(fstatSync(out.fd).size, base, '4000 bytes buffered: still nothing written')
  dst.write(kb(4))
  dst.write(kb(5))
  await until(10_000, 'a write once minLength is reached', () => fstatSync(out.fd).size >= base + 5000)
  for (let i = 0; i < 20; i++) await turn()
  t.equal(fstatSync(out.fd).size, base + 5000, 'the batch that reached minLength is written, the next line waits')
  await flushed(dst)
  const kbs = [0, 1, 2, 3, 4, 5].map(kb).join('')
  sameBytes(t, out.read(), Buffer.from(small.join('') + kbs), 'all lines after the final flush')
})

t.test('a minLength above the 64 KiB chunk: the sealed chunk counts toward it', async t => {
  // The gateway batches ~32 KiB; a larger minLength must still start writing once reached, not
  // wait for the current chunk alone to reach it (which a 64 KiB chunk never could).
  const out = tempFile(t)
  const dst = new BufferedLogDestination(out.fd, 96 * 1024)
  const kb = (i: number): string => `{"n":${String(i).padStart(3, '0')},"pad":"${'k'.repeat(1000 - 19)}"}\n`
  t.equal(kb(0).length, 1000)
  for (let i = 0; i < 97; i++) dst.write(kb(i))
  for (let i = 0; i < 20; i++) await turn()
  t.equal(fstatSync(out.fd).size, 0, '97,000 bytes buffered (one chunk sealed): nothing written yet')
  dst.write(kb(97))
  dst.write(kb(98))
  await until(10_000, 'writes once 96 KiB are buffered', () => fstatSync(out.fd).size === 99_000)
  sameBytes(t, out.read(), Buffer.from(Array.from({ length: 99 }, (_, i) => kb(i)).join('')), 'both chunks, in order, without a flush')
})

t.test('a line larger than 64 KiB is written intact between its neighbours', async t => {
  const out = tempFile(t)
  const dst = new BufferedLogDestination(out.fd, 4096)
  const before = makeLines(300, 3)
  const ascii = `{"big":"${'x'.repeat(200_000)}"}\n`
  // 3 bytes per UTF-16 unit: the case the chunk is sized for exactly.
  const wide = `{"big":"${'漢'.repeat(70_000)}"}\n`
  const after = makeLines(300, 5)
  const all = [...before, ascii, ...after, wide, ...after]
  t.equal(all.filter(line => !dst.write(line)).length, 0, 'every line accepted')
  t.equal(await flushed(dst), undefined)
  sameBytes(t, out.read(), Buffer.from(all.join('')), 'big lines intact and in place')
})

t.test('flushSync() writes everything buffered before it returns', async t => {
  const out = tempFile(t)
  const dst = new BufferedLogDestination(out.fd, NEVER)
  // ~300 KB: several sealed chunks plus the current one.
  const lines = makeLines(2000, 11)
  for (const line of lines) dst.write(line)
  t.equal(fstatSync(out.fd).size, 0, 'nothing written yet')
  dst.flushSync()
  const expected = Buffer.from(lines.join(''))
  t.ok(expected.length > 3 * 64 * 1024, 'more than three chunks were buffered')
  sameBytes(t, out.read(), expected, 'the file is complete right after flushSync()')

  // Still usable afterwards, without writing anything twice.
  const later = makeLines(50, 13)
  for (const line of later) dst.write(line)
  t.equal(await flushed(dst), undefined)
  sameBytes(t, out.read(), Buffer.from(lines.join('') + later.join('')), 'later lines follow, none repeated')
})

// Fails on core/log-destination.ts as first written: flushSync() empties the queued chunks
// (used = 0) without taking their bytes off #pendingBytes, so they count towards the cap forever
// and #pendingBytes never returns to 0 for the dropped-lines notice.
t.test('after flushSync() the destination holds nothing, so the 16 MiB cap applies afresh', async t => {
  const out = tempFile(t)
  const dst = new BufferedLogDestination(out.fd, NEVER)
  const line = `{"pad":"${'p'.repeat(1000)}"}\n`
  let written = 0
  while (written < 8 * MiB) {
    dst.write(line)
    written += line.length
  }
  dst.flushSync()
  t.equal(fstatSync(out.fd).size, written, 'flushSync wrote the 8 MiB')

  // Nothing is pending now: about 16 MiB should be accepted before lines are dropped.
  let accepted = 0
  let refused = 0
  for (let i = 0; i < 40_000 && refused === 0; i++) {
    if (dst.write(line)) accepted += line.length
    else refused++
  }
  t.equal(refused, 1, 'the cap was reached')
  t.ok(accepted >= 16 * MiB, `~16 MiB accepted after flushSync (accepted ${accepted} bytes)`)
  await flushed(dst)
  const last = out.read().toString().trimEnd().split('\n').at(-1) ?? ''
  t.match(last, /"msg":"log lines dropped/, 'the dropped notice is written once everything pending is')
})

t.test('a stuck reader: EAGAIN retried, lines past 16 MiB dropped and counted, then a notice', async t => {
  const dir = tempDir(t, 'mcpgate-logdest-')
  const fifo = join(dir, 'out.fifo')
  const made = spawnSync('mkfifo', [fifo])
  t.equal(made.status, 0, 'mkfifo')
  // The reader end first (a non-blocking open for writing fails without a reader), neither end blocking.
  const readFd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK)
  // Once a Socket wraps the read end, the Socket owns (and closes) it.
  let closeReader = (): void => { closeSync(readFd) }
  t.teardown(() => { closeReader() })
  const writeFd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK)
  let writeOpen = true
  t.teardown(() => { if (writeOpen) closeSync(writeFd) })

  // Fill the pipe so the destination's very first write meets EAGAIN.
  const filler = Buffer.alloc(4096, '#')
  let fillerBytes = 0
  let full = false
  for (let i = 0; i < 1024 && !full; i++) {
    try {
      fillerBytes += writeSync(writeFd, filler)
    } catch (err) {
      t.equal((err as NodeJS.ErrnoException).code, 'EAGAIN', 'a full pipe says EAGAIN')
      full = true
    }
  }
  t.ok(full, `the pipe is full (${fillerBytes} bytes)`)

  const dst = new BufferedLogDestination(writeFd, 4096)
  const pad = 'q'.repeat(180)
  const accepted: string[] = []
  let refused = 0
  // One line far larger than the pipe holds: its chunk can only go out in several partial writes.
  const big = `{"big":"${'B'.repeat(300_000)}"}\n`
  for (let i = 0; i < 200_000 && dst.dropped === 0; i++) {
    const line = i === 1000 ? big : `{"i":${i},"pad":"${pad}"}\n`
    if (dst.write(line)) accepted.push(line)
    else refused++
  }
  t.equal(refused, 1, 'lines are refused once 16 MiB are pending')
  const acceptedBytes = Buffer.byteLength(accepted.join(''))
  t.ok(acceptedBytes > 16 * MiB && acceptedBytes < 16 * MiB + 64 * 1024, `~16 MiB accepted (${acceptedBytes})`)
  // While the reader stays stuck, writes are attempted and retried; nothing pending is given up,
  // so lines keep being refused.
  for (let i = 0; i < 50; i++) {
    await turn()
    if (dst.write(`{"refused":${i}}\n`)) t.fail(`line ${i} accepted while the output is stuck`)
    else refused++
  }
  t.equal(dst.dropped, refused, 'every refused line is counted')

  // The reader starts draining.
  const socket = new Socket({ fd: readFd, readable: true, writable: false })
  closeReader = () => { socket.destroy() }
  const received: Buffer[] = []
  socket.on('data', (b: Buffer) => { received.push(b) })
  const ended = new Promise<void>(resolve => { socket.once('end', resolve) })

  t.equal(await flushed(dst, 30_000), undefined, 'flush calls back once the reader drains')
  t.equal(dst.dropped, 0, 'the count is reset once the notice is written')
  t.equal(dst.write('{"recovered":true}\n'), true, 'lines are accepted again')
  await flushed(dst)
  closeSync(writeFd)
  writeOpen = false
  await within(30_000, 'reader end of file', ended)

  const all = Buffer.concat(received)
  sameBytes(t, all.subarray(0, fillerBytes), Buffer.alloc(fillerBytes, '#'), 'the filler comes first')
  const rest = all.subarray(fillerBytes)
  sameBytes(t, rest.subarray(0, acceptedBytes), Buffer.from(accepted.join('')), 'every accepted line arrived, in order')
  const tail = rest.subarray(acceptedBytes).toString().split('\n')
  t.equal(tail.length, 3, 'then exactly the notice and the recovered line')
  t.notOk(rest.includes('"refused"'), 'no refused line arrived')
  const notice = JSON.parse(tail[0] ?? '') as Record<string, unknown>
  t.match(notice, { level: 40, msg: /^log lines dropped/, dropped: refused }, 'the notice counts the dropped lines')
  t.type(notice.time, 'number')
  t.equal(tail[1], '{"recovered":true}')
  t.equal(tail[2], '', 'ends with a newline')
})

t.test('write errors other than EAGAIN do not throw, and flush(cb) still calls back', async t => {
  t.test('an fd opened read-only (EBADF)', async t => {
    const path = join(tempDir(t, 'mcpgate-logdest-'), 'ro.log')
    writeFileSync(path, 'original\n')
    const fd = openSync(path, 'r')
    t.teardown(() => { closeSync(fd) })
    const dst = new BufferedLogDestination(fd, 16)
    // Several batches: each starts a write that fails.
    t.equal(makeLines(2000, 17).filter(line => !dst.write(line)).length, 0, 'every line accepted')
    t.equal(await flushed(dst), undefined, 'flush calls back')
    t.equal(dst.write('{"again":1}\n'), true, 'still accepting lines (failed chunks are not pending)')
    t.equal(await flushed(dst), undefined, 'flush calls back again')
    t.equal(readFileSync(path, 'utf8'), 'original\n', 'the file is untouched')
  })

  t.test('a pipe whose reader is gone (EPIPE)', async t => {
    const fifo = join(tempDir(t, 'mcpgate-logdest-'), 'gone.fifo')
    t.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo')
    const readFd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK)
    const writeFd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK)
    t.teardown(() => { closeSync(writeFd) })
    closeSync(readFd)
    t.throws(() => writeSync(writeFd, 'x'), { code: 'EPIPE' }, 'the pipe is broken')
    const dst = new BufferedLogDestination(writeFd, 16)
    t.equal(makeLines(2000, 19).filter(line => !dst.write(line)).length, 0, 'every line accepted')
    t.equal(await flushed(dst), undefined, 'flush calls back')
    dst.flushSync()
    t.pass('flushSync does not throw on a broken pipe')
  })
})
