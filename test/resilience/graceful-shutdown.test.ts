// SIGTERM on a real `mcpgate gateway` process: it stops accepting at once, ends open SSE streams
// cleanly (the client sees the end of the stream, not a reset), lets in-flight requests finish,
// closes connections that never sent a request, flushes lastUsedAt and exits 0 (the admin API
// too closes idle connections at once). A request that
// never finishes holds the exit for gateway.shutdownGraceMs at most; a second SIGTERM exits at once.
import { once } from 'node:events'
import { connect } from 'node:net'
import t from 'tap'
import { createTestKey } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { redisStore, testRedis } from '../helpers/stores.ts'
import { ADMIN_TOKEN, FAST_HASHING, startMcpgate, until, waitReady, writeConfig } from '../helpers/processes.ts'

const GRACE_MS = 1500

t.test('graceful shutdown', async t => {
  const redis = await testRedis(t)
  const prefix = 'shutdown:'
  const store = await redisStore(t, redis, { prefix })

  let release!: () => void
  const released = new Promise<void>(resolve => { release = resolve })
  const upstream = await startRawUpstream(t, async (req, res) => {
    if (req.url?.startsWith('/base/events') === true) {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write('event: message\ndata: {"hello":1}\n\n')
      return // stays open, as a standalone MCP stream does
    }
    if (req.url?.startsWith('/base/slow') === true) {
      await released
      res.setHeader('content-type', 'application/json')
      res.end('{"jsonrpc":"2.0","id":1,"result":{"slow":true}}')
    }
    // /base/stuck: never answered (the upstream's teardown closes it).
  }, { readBody: true })

  const config = (shutdownGraceMs: number) => writeConfig(t, {
    gateway: { host: '127.0.0.1', port: 0, shutdownGraceMs, lastUsedFlushMs: 600_000 },
    admin: { host: '127.0.0.1', port: 0, token: ADMIN_TOKEN },
    store: { type: 'redis', url: redis.url, prefix },
    hashing: FAST_HASHING,
    log: { level: 'error', accessLog: false },
    servers: [{ id: 'up', url: `${upstream.origin}/base/mcp` }]
  })
  const [drained, stuck, twice, admin] = await Promise.all([
    startMcpgate(t, 'gateway', config(GRACE_MS)),
    startMcpgate(t, 'gateway', config(GRACE_MS)),
    // A long grace period, so that "at once" cannot be confused with "after the grace period".
    startMcpgate(t, 'gateway', config(30_000)),
    startMcpgate(t, 'admin', config(GRACE_MS))
  ])
  await Promise.all([drained, stuck, twice, admin].map(p => waitReady(p.url)))
  const { key, keyId } = await createTestKey(store)
  const auth = { authorization: `Bearer ${key}` }

  t.test('in-flight requests finish, SSE ends cleanly, idle sockets close, last-used is flushed, exit 0', async t => {
    const { url } = drained
    // An SSE stream open through the gateway, its first event read.
    const sse = await fetch(`${url}/mcp-connect/up/events`, { headers: { ...auth, accept: 'text/event-stream' } })
    t.equal(sse.status, 200)
    const reader = sse.body!.getReader()
    const first = await reader.read()
    t.match(Buffer.from(first.value ?? []).toString(), 'data: {"hello":1}', 'the stream delivers')
    // A request in flight upstream, and a connection that never sends a request.
    const slow = fetch(`${url}/mcp-connect/up/slow`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' })
    await upstream.waitForRequest(r => r.url.startsWith('/base/slow'))
    const idle = connect(Number(new URL(url).port), '127.0.0.1')
    await once(idle, 'connect')
    const idleClosed = once(idle, 'close')
    t.equal((await store.getKey(keyId))?.lastUsedAt, null, 'lastUsedAt not written yet (flush interval is 10 min)')

    const signalledAt = performance.now()
    drained.signal('SIGTERM')

    // The stream ends with its terminating chunk: read() says done, it does not throw.
    let end: { done: boolean } | Error
    try {
      for (;;) {
        const chunk = await reader.read()
        if (chunk.done) { end = chunk; break }
      }
    } catch (err) {
      end = err as Error
    }
    const sseEndedAfter = performance.now() - signalledAt
    t.same(end, { done: true, value: undefined }, `the SSE stream ended cleanly (${sseEndedAfter.toFixed(0)} ms after SIGTERM)`)
    t.ok(sseEndedAfter < 1000, 'at once, not after the grace period')
    await idleClosed
    t.pass('the connection that never sent a request was closed')

    const refused = await until('new connections refused', 2000, () => new Promise<boolean>(resolve => {
      const probe = connect(Number(new URL(url).port), '127.0.0.1')
      probe.once('connect', () => { probe.destroy(); resolve(false) })
      probe.once('error', err => resolve((err as NodeJS.ErrnoException).code === 'ECONNREFUSED'))
    }))
    t.ok(refused, 'no new connections are accepted')

    t.equal(drained.child.exitCode, null, 'still running while a request is in flight')
    release()
    const res = await slow
    t.equal(res.status, 200, 'the in-flight request completed')
    t.same(await res.json(), { jsonrpc: '2.0', id: 1, result: { slow: true } }, 'with its whole body')
    const { code } = await drained.exited
    const exitedAfter = performance.now() - signalledAt
    t.equal(code, 0, `exit code 0 (${exitedAfter.toFixed(0)} ms after SIGTERM)`)
    t.ok(exitedAfter < GRACE_MS + 2000, 'within the grace period and a margin')
    t.ok(((await store.getKey(keyId))?.lastUsedAt ?? 0) > 0, 'lastUsedAt was flushed on shutdown')
  })

  t.test('the admin API closes a connection that never sent a request and exits 0 at once', async t => {
    // Browsers open connections ahead of use; server.close() alone would wait for them.
    const idle = connect(Number(new URL(admin.url).port), '127.0.0.1')
    await once(idle, 'connect')
    idle.on('error', () => {})
    const signalledAt = performance.now()
    admin.signal('SIGTERM')
    const { code } = await admin.exited
    const exitedAfter = performance.now() - signalledAt
    t.equal(code, 0, 'exit code 0')
    // Without the drain it waited for that socket until close-with-grace gave up (6.5 s, exit 1).
    t.ok(exitedAfter < 2000, `exited ${exitedAfter.toFixed(0)} ms after SIGTERM`)
    idle.destroy()
  })

  t.test('a request that never finishes holds the exit for shutdownGraceMs at most', async t => {
    const pending = fetch(`${stuck.url}/mcp-connect/up/stuck`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' })
      .then(r => ({ status: r.status }), (err: Error) => ({ error: err.message }))
    await upstream.waitForRequest(r => r.url.startsWith('/base/stuck'))
    const signalledAt = performance.now()
    stuck.signal('SIGTERM')
    const { code } = await stuck.exited
    const exitedAfter = performance.now() - signalledAt
    t.equal(code, 0, 'exit code 0: the drain was bounded, not killed by the timeout')
    t.ok(exitedAfter >= GRACE_MS - 50, `it waited for the grace period (${exitedAfter.toFixed(0)} ms)`)
    t.ok(exitedAfter < GRACE_MS + 2500, 'and not much longer')
    t.ok('error' in await pending, 'the unfinished request was cut')
  })

  t.test('a second SIGTERM exits at once', async t => {
    const pending = fetch(`${twice.url}/mcp-connect/up/stuck`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' })
      .catch(() => {})
    await until('the stuck request upstream', 5000, () => upstream.requests.filter(r => r.url.startsWith('/base/stuck')).length >= 2)
    twice.signal('SIGTERM')
    // The first signal is being handled once the listener is gone (new connections refused).
    await until('the first SIGTERM to take effect', 2000, () => new Promise<boolean>(resolve => {
      const probe = connect(Number(new URL(twice.url).port), '127.0.0.1')
      probe.once('connect', () => { probe.destroy(); resolve(false) })
      probe.once('error', () => resolve(true))
    }))
    const signalledAt = performance.now()
    twice.signal('SIGTERM')
    const { code } = await twice.exited
    const exitedAfter = performance.now() - signalledAt
    t.ok(exitedAfter < 2000, `exited ${exitedAfter.toFixed(0)} ms after the second SIGTERM (grace period: 30 s)`)
    t.equal(code, 1, 'exit code 1: shutdown was cut short')
    await pending
  })
})
