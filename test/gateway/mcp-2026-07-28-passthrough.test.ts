// MCP 2026-07-28 (stateless: no initialize, no Mcp-Session-Id; MCP-Protocol-Version, Mcp-Method and
// Mcp-Name on every POST) passes through the gateway untouched, against a hand-built conforming
// upstream (test/helpers/mcp-2026-upstream.ts): every header and the body reach the upstream byte
// for byte, status, headers and body (JSON and SSE) come back verbatim, a header/body disagreement
// gets the upstream's 400 and runs nothing, no session is created, required or invented, GET and
// DELETE get the era's 405, and subscriptions/listen (the era's long-lived stream, which replaced
// the GET stream) stays open and carries notifications as they happen.
import t from 'tap'
import type { Test } from 'tap'
import { createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { openStream } from '../helpers/mcp-raw.ts'
import {
  MODERN_VERSION, encodeHeaderValue, modernHeaders, modernRequest, startModernUpstream, type ModernUpstream
} from '../helpers/mcp-2026-upstream.ts'
import type { RecordedRequest } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

interface Answer {
  status: number
  headers: Headers
  bytes: Buffer
}

async function send (url: string, method: string, headers: Record<string, string>, body?: Uint8Array<ArrayBuffer> | string): Promise<Answer> {
  const res = await fetch(url, { method, headers, body })
  return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) }
}

/** The request the upstream recorded for this exchange (the latest one not seen before). */
function lastRequest (upstream: ModernUpstream, before: number): RecordedRequest {
  const recs = upstream.requests.slice(before)
  if (recs.length !== 1) throw new Error(`expected 1 upstream request, got ${recs.length}`)
  return recs[0] as RecordedRequest
}

/** The client got what the upstream answered: status, every upstream header and the body bytes. */
function assertVerbatim (t: Test, got: Answer, upstream: ModernUpstream, rec: RecordedRequest, what: string, gatewayOwned: string[] = []): void {
  const sent = upstream.answerTo(rec)
  if (sent === undefined) throw new Error(`${what}: the upstream recorded no answer`)
  t.equal(got.status, sent.status, `${what}: status verbatim`)
  for (const [name, value] of Object.entries(sent.headers)) {
    if (gatewayOwned.includes(name)) continue
    t.equal(got.headers.get(name), value, `${what}: response header ${name} verbatim`)
  }
  t.ok(got.bytes.equals(sent.body), `${what}: body byte for byte`)
  t.equal(got.headers.get('mcp-session-id'), null, `${what}: no Mcp-Session-Id in the answer`)
  t.equal(rec.headers['mcp-session-id'], undefined, `${what}: no Mcp-Session-Id upstream`)
}

t.test('MCP 2026-07-28 traffic passes through the gateway untouched', async t => {
  const upstream = await startModernUpstream(t)
  const store = await sqliteStore(t)
  const gw = await startGateway(t, { store, config: testConfig({ servers: [{ id: 'modern', url: upstream.mcpUrl }] }) })
  const { key } = await createTestKey(store)
  const url = gw.mcpUrl('modern')
  const auth = { authorization: `Bearer ${key}` }

  await t.test('every header and the body reach the upstream byte for byte; JSON answers come back verbatim', async t => {
    // Headers the gateway must not touch: the era's mirrored ones, a custom Mcp-Param-* (the spec:
    // intermediaries MUST forward those they do not know), an Mcp-* of a future revision, and W3C
    // trace context.
    const extra = {
      'mcp-param-region': 'us-west1',
      'mcp-future-header': 'kept; with=odd, chars',
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
    }
    const cases: Array<{ what: string, body: ReturnType<typeof modernRequest>, text?: (json: string) => string, expect: number }> = [
      { what: 'server/discover', body: modernRequest(1, 'server/discover'), expect: 200 },
      { what: 'tools/list', body: modernRequest(2, 'tools/list'), expect: 200 },
      // A body re-serialised anywhere on the way would lose the escape and the layout.
      { what: 'tools/call echo', body: modernRequest(3, 'tools/call', { name: 'echo', arguments: { text: 'héllo ✓' } }), text: json => JSON.stringify(JSON.parse(json), null, 2).replace('"echo"', '"\\u0065cho"') + '\n', expect: 200 },
      // A non-ASCII tool name travels in Mcp-Name as the Base64 sentinel.
      { what: 'tools/call with a Base64-encoded Mcp-Name', body: modernRequest(4, 'tools/call', { name: 'grüß', arguments: {} }), expect: 200 },
      { what: 'an unknown method', body: modernRequest(5, 'tools/frobnicate'), expect: 404 }
    ]
    for (const c of cases) {
      const json = JSON.stringify(c.body)
      const bytes = Buffer.from(c.text === undefined ? json : c.text(json), 'utf8')
      const headers = { ...auth, ...modernHeaders(c.body), ...extra }
      const before = upstream.requests.length
      const got = await send(url, 'POST', headers, bytes)
      const rec = lastRequest(upstream, before)
      t.equal(got.status, c.expect, `${c.what}: ${c.expect}`)
      t.ok(rec.bodyBytes.equals(bytes), `${c.what}: request body byte for byte`)
      for (const [name, value] of Object.entries(headers)) {
        if (name === 'authorization') continue
        t.equal(rec.headers[name], value, `${c.what}: request header ${name} reached the upstream as sent`)
      }
      t.equal(rec.headers.authorization, undefined, `${c.what}: the key stays at the gateway`)
      assertVerbatim(t, got, upstream, rec, c.what)
    }
    t.equal(upstream.requests.at(-2)?.headers['mcp-name'], encodeHeaderValue('grüß'), 'the sentinel form is what went upstream')
    t.match(upstream.requests.at(-2)?.headers['mcp-name'], /^=\?base64\?.+\?=$/)
    const unknown = JSON.parse(upstream.answerTo(upstream.requests.at(-1) as RecordedRequest)?.body.toString() ?? '{}') as { error?: { code: number } }
    t.equal(unknown.error?.code, -32601, "an unknown method is the upstream's 404 -32601, not a gateway 404")
    t.same(upstream.toolRuns, ['echo', 'grüß'], 'both calls ran upstream once')
  })

  await t.test('an answer as text/event-stream comes back byte for byte', async t => {
    const body = modernRequest(10, 'tools/call', { name: 'stream_echo', arguments: { text: 'streamed ✓' }, _meta: { progressToken: 'p-1' } })
    const before = upstream.requests.length
    const got = await send(url, 'POST', { ...auth, ...modernHeaders(body) }, JSON.stringify(body))
    const rec = lastRequest(upstream, before)
    t.equal(got.headers.get('content-type'), 'text/event-stream')
    // DESIGN "text/event-stream": the gateway's own Cache-Control on a stream; every other header verbatim.
    assertVerbatim(t, got, upstream, rec, 'SSE tools/call', ['cache-control'])
    t.equal(got.headers.get('cache-control'), 'no-cache, no-transform')
    const text = got.bytes.toString('utf8')
    t.ok(text.indexOf('notifications/progress') < text.indexOf('"result"'), 'the progress notification, then the result')
    t.match(text, /streamed ✓/)
  })

  await t.test('headers that disagree with the body: 400, and the tool does not run', async t => {
    const runs = upstream.toolRuns.length
    const call = modernRequest(20, 'tools/call', { name: 'echo', arguments: { text: 'x' } })
    const right = modernHeaders(call)
    const { 'mcp-name': _name, ...noName } = right
    const otherMeta = modernRequest(20, 'tools/call', { name: 'echo', arguments: { text: 'x' }, _meta: { 'io.modelcontextprotocol/protocolVersion': '2025-11-25' } })
    const wrong: Array<[string, Record<string, string>, unknown]> = [
      ['Mcp-Name names another tool', { ...right, 'mcp-name': 'stream_echo' }, call],
      ['Mcp-Method names another method', { ...right, 'mcp-method': 'tools/list' }, call],
      ['Mcp-Name is missing', noName, call],
      ['a Base64 Mcp-Name that decodes to another name', { ...right, 'mcp-name': `=?base64?${Buffer.from('echo ').toString('base64')}?=` }, call],
      ['MCP-Protocol-Version disagrees with the body\'s _meta', right, otherMeta],
      ['an MCP-Protocol-Version the server does not speak', { ...right, 'mcp-protocol-version': '2099-01-01' }, call]
    ]
    for (const [what, headers, body] of wrong) {
      const before = upstream.requests.length
      const got = await send(url, 'POST', { ...auth, ...headers }, JSON.stringify(body))
      t.equal(got.status, 400, `${what}: 400`)
      const error = (JSON.parse(got.bytes.toString('utf8')) as { error?: { code: number, message: string } }).error
      t.type(error?.message, 'string', `${what}: a JSON-RPC error body`)
      const seen = upstream.requests.slice(before)
      // Either the upstream refused it (its answer, verbatim) or the gateway did (DESIGN: "For
      // 2026-07-28, Mcp-Method/Mcp-Name must match the body (else 400)"); never both, never a run.
      if (seen.length === 1) {
        assertVerbatim(t, got, upstream, seen[0] as RecordedRequest, what)
        t.ok(error?.code === -32020 || error?.code === -32022, `${what}: the upstream's HeaderMismatch / UnsupportedProtocolVersion`)
      } else {
        t.equal(seen.length, 0, `${what}: refused by the gateway, not sent upstream`)
      }
    }
    t.equal(upstream.toolRuns.length, runs, 'no refused call ran a tool')
  })

  await t.test('no session: requests in a row need none, and none is created or invented', async t => {
    const before = upstream.requests.length
    const methods = ['server/discover', 'tools/list', 'tools/call', 'tools/call']
    for (let i = 0; i < 24; i++) {
      const method = methods[i % methods.length] as string
      const body = method === 'tools/call'
        ? modernRequest(100 + i, method, { name: i % 8 === 2 ? 'echo' : 'stream_echo', arguments: { text: `n${i}` } })
        : modernRequest(100 + i, method)
      const got = await send(url, 'POST', { ...auth, ...modernHeaders(body) }, JSON.stringify(body))
      t.equal(got.status, 200, `request ${i} (${method}) answered without a session`)
      t.equal(got.headers.get('mcp-session-id'), null, `request ${i}: the gateway adds no session header`)
      if (method === 'tools/call') t.match(got.bytes.toString('utf8'), `"n${i}"`)
    }
    const recs = upstream.requests.slice(before)
    t.equal(recs.length, 24, 'every request reached the upstream once')
    t.ok(recs.every(r => r.headers['mcp-session-id'] === undefined), 'no request went upstream with a session id')
    t.ok(recs.every(r => r.headers['mcp-protocol-version'] === MODERN_VERSION), 'each carried its own protocol version')
    t.ok(recs.every(r => { const method = (JSON.parse(r.body) as { method: string }).method; return r.headers['mcp-method'] === method }), 'each carried its Mcp-Method')
  })

  await t.test('GET and DELETE: the era has neither a GET stream nor sessions; the 405 passes through', async t => {
    for (const method of ['GET', 'DELETE']) {
      const before = upstream.requests.length
      const got = await send(url, method, { ...auth, accept: 'application/json, text/event-stream', 'mcp-protocol-version': MODERN_VERSION })
      const rec = lastRequest(upstream, before)
      t.equal(got.status, 405, `${method}: the upstream's 405`)
      t.equal(got.headers.get('allow'), 'POST')
      assertVerbatim(t, got, upstream, rec, method)
    }
  })

  await t.test('subscriptions/listen: the long-lived stream stays open and carries notifications as they happen', async t => {
    const body = modernRequest(200, 'subscriptions/listen', { notifications: ['notifications/tools/list_changed'] })
    const stream = await openStream(url, { method: 'POST', headers: { ...auth, ...modernHeaders(body) }, body: JSON.stringify(body) })
    t.teardown(() => stream.close())
    t.equal(stream.status, 200)
    await stream.waitFor(/notifications\/subscriptions\/acknowledged/)
    t.equal(upstream.listeners(), 1, 'the stream is open upstream')
    upstream.listChanged()
    await stream.waitFor(/notifications\/tools\/list_changed/)
    t.equal(upstream.listeners(), 1, 'still open after the notification')
    const rec = upstream.requests.at(-1) as RecordedRequest
    t.equal(stream.text(), upstream.answerTo(rec)?.body.toString('utf8'), 'every byte so far, verbatim')
    stream.close()
    await rec.closed
    t.equal(upstream.listeners(), 0, 'closing the stream closed it upstream (the era\'s cancellation)')
  })
})
