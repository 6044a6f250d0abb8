// fast-check fuzz of the Authorization/X-API-Key headers and of the server-id path: never a 5xx,
// never a crash, never a request proxied that should not be (and nothing proxied outside the
// server's directory or with an encoded or dot segment).
import { request } from 'node:http'
import t from 'tap'
import fc from 'fast-check'
import { createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

/** Node's HTTP parser itself refuses some bytes (e.g. non-ASCII in the request line) and drops
 * the connection before any handler runs: reported as PARSER_REJECTED, which is not a failure. */
const PARSER_REJECTED = -1

function send (origin: string, path: string, headers: Record<string, string>): Promise<number> {
  const u = new URL(origin)
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method: 'POST', headers }, res => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET') resolve(PARSER_REJECTED)
      else reject(err)
    })
    req.end('{}')
  })
}

const printable = fc.array(fc.integer({ min: 0x20, max: 0x7e }), { maxLength: 200 }).map(c => String.fromCharCode(...c))
/** What a raw HTTP/1.1 request line can carry: no space, no control characters. */
const pathChars = fc.array(fc.integer({ min: 0x21, max: 0x7e }), { maxLength: 40 }).map(c => String.fromCharCode(...c))
/** Every byte a header value may legally carry (obs-text included; DEL is not allowed). */
const latin1 = fc.array(fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff })), { maxLength: 120 })
  .map(c => String.fromCharCode(...c))

t.test('fuzz', async t => {
  const upstream = await startRawUpstream(t, (_req, res) => { res.end('{}') })
  const store = await sqliteStore(t)
  const gw = await startGateway(t, {
    store,
    config: testConfig({
      // Budgets large enough that the fuzzer sees the auth outcomes, not only 429s.
      gateway: { guards: { failuresPerIp: 100000, failuresPerKeyId: 100000 } },
      servers: [{ id: 'up', url: `${upstream.origin}/base/mcp` }]
    })
  })
  const { key } = await createTestKey(store)

  await t.test('Authorization and X-API-Key', async t => {
    const mutatedKey = fc.tuple(fc.nat({ max: key.length - 1 }), fc.integer({ min: 0x21, max: 0x7e }), fc.constantFrom('replace', 'insert', 'delete', 'truncate'))
      .map(([i, code, op]) => {
        const c = String.fromCharCode(code)
        if (op === 'replace') return key.slice(0, i) + c + key.slice(i + 1)
        if (op === 'insert') return key.slice(0, i) + c + key.slice(i)
        if (op === 'delete') return key.slice(0, i) + key.slice(i + 1)
        return key.slice(0, i)
      })
      .filter(k => k !== key)
    const value = fc.oneof(
      printable,
      latin1,
      mutatedKey,
      mutatedKey.map(k => `Bearer ${k}`),
      fc.tuple(fc.constantFrom('Bearer', 'bearer', 'BEARER', 'Basic', 'Token', ''), fc.constantFrom(' ', '\t', '  ', ''), fc.oneof(mutatedKey, printable))
        .map(([scheme, sep, v]) => `${scheme}${sep}${v}`),
      fc.constant('ok1-' + 'A'.repeat(200))
    )
    let runs = 0
    await fc.assert(fc.asyncProperty(value, fc.boolean(), async (v, asApiKey) => {
      runs++
      const status = await send(gw.url, '/mcp-connect/up', asApiKey ? { 'x-api-key': v } : { authorization: v })
      return status === 401 || status === 429 || status === PARSER_REJECTED
    }), { numRuns: 400 })
    t.equal(runs >= 400, true, `${runs} runs`)
    t.equal(upstream.requests.length, 0, 'nothing was proxied')
  })

  await t.test('server id and path', async t => {
    const token = fc.constantFrom('up', 'UP', 'u', 'p', '..', '.', '%2e', '%2E', '%2f', '%2F', '%5c', '%5C', '%00', '%25',
      '%EF%BC%8E', '%C0%AE', '/', '//', '\\', '-', '_', '~', ';', ':', '@', '+', '%20', 'mcp', 'base', 'ä', '\u00ff')
    const free = fc.array(fc.oneof({ weight: 4, arbitrary: token }, { weight: 1, arbitrary: pathChars.map(s => s.replace(/[?#]/g, '')) }), { minLength: 1, maxLength: 8 })
      .map(parts => parts.join(''))
    // Half the paths start with the real server, so the sub-path checks are exercised too.
    const path = fc.oneof(free, free.map(rest => `up/${rest}`))
    const authorization = `Bearer ${key}`
    let proxiedCount = 0
    await fc.assert(fc.asyncProperty(path, async p => {
      const before = upstream.requests.length
      const status = await send(gw.url, `/mcp-connect/${p}`, { authorization })
      if (status >= 500 || status === 0) return false
      if (status === PARSER_REJECTED) return upstream.requests.length === before
      const proxied = upstream.requests.slice(before)
      if (proxied.length === 0) return true
      proxiedCount++
      // Proxied: the id segment was exactly `up`, and the upstream path stays in /base/, clean.
      const id = p.split('/', 1)[0]
      return id === 'up' && proxied.every(r => {
        const upstreamPath = r.url.split('?', 1)[0] as string
        return upstreamPath.startsWith('/base/') && !upstreamPath.includes('%') && !upstreamPath.includes('\\') &&
          !upstreamPath.split('/').some(s => s === '.' || s === '..')
      })
    }), { numRuns: 500 })
    t.pass('500 paths: no 5xx, nothing proxied outside the server directory')
    t.ok(proxiedCount > 0, `${proxiedCount} clean paths were proxied (the property was exercised both ways)`)
  })

  t.equal((await fetch(`${gw.url}/healthz`)).status, 200, 'the gateway is alive after the fuzzing')
})
