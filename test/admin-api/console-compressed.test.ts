// The console's files (HTML, JS, CSS) go out compressed as the browser asks (brotli first, then
// gzip; none without Accept-Encoding), with Vary: accept-encoding on each, validators and
// caching as before; what arrives decodes to the very bytes on disk. The API is not compressed.
import { readdirSync, readFileSync } from 'node:fs'
import { request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import { pino } from 'pino'
import t from 'tap'
import { buildAdmin } from '../../admin-api/app.ts'
import { registerConsole } from '../../admin-api/console.ts'
import { ADMIN_TOKEN, testConfig } from '../helpers/admin.ts'
import { buildConsole } from '../helpers/console-stack.ts'
import { sqliteStore } from '../helpers/stores.ts'

interface Raw { status: number, headers: Record<string, string | string[] | undefined>, body: Buffer }

/** The bytes as they travel: node:http does not decode content codings (fetch would). */
function get (base: string, path: string, headers: Record<string, string> = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, base), { headers }, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

const root = await buildConsole(t)
const config = testConfig({ log: { level: 'silent' } })
const admin = await buildAdmin(config, { store: await sqliteStore(t), logger: pino({ level: 'silent' }), console: false })
t.teardown(() => admin.close())
await registerConsole(admin, config, { root })
await admin.listen({ port: 0, host: '127.0.0.1' })
const base = `http://127.0.0.1:${(admin.server.address() as AddressInfo).port}`

const assets = readdirSync(join(root, 'assets'))
const files = [
  { path: '/', file: join(root, 'index.html'), type: /^text\/html/ },
  { path: `/assets/${assets.find(f => f.endsWith('.js'))}`, file: join(root, 'assets', assets.find(f => f.endsWith('.js')) as string), type: /javascript/ },
  { path: `/assets/${assets.find(f => f.endsWith('.css'))}`, file: join(root, 'assets', assets.find(f => f.endsWith('.css')) as string), type: /^text\/css/ }
]

for (const { path, file, type } of files) {
  t.test(path, async t => {
    const original = readFileSync(file)
    const plain = await get(base, path)
    t.equal(plain.status, 200)
    t.match(plain.headers['content-type'], type)
    t.equal(plain.headers['content-encoding'], undefined, 'no Accept-Encoding: sent as it is')
    t.same(plain.body, original)
    t.match(plain.headers.vary, /accept-encoding/i, 'Vary even uncompressed: a shared cache must not hand it to every client')
    const etag = plain.headers.etag as string
    t.ok(etag, 'an ETag')

    const br = await get(base, path, { 'accept-encoding': 'gzip, deflate, br' })
    t.equal(br.headers['content-encoding'], 'br', 'brotli when offered')
    t.match(br.headers.vary, /accept-encoding/i)
    t.same(brotliDecompressSync(br.body), original, 'decodes to the file')
    t.equal(br.headers['cache-control'], plain.headers['cache-control'], 'caching as before')
    t.equal(br.headers.etag, etag, 'the same (weak) validator')
    t.match(br.headers['content-security-policy'], /default-src 'self'/, 'the console\'s headers stay')

    const gz = await get(base, path, { 'accept-encoding': 'gzip' })
    t.equal(gz.headers['content-encoding'], 'gzip', 'gzip when only it is offered')
    t.same(gunzipSync(gz.body), original, 'decodes to the file')

    if (original.length > 10_000) {
      // The bundle and stylesheet shrink to about a third (brotli at quality 4, gzip at 6).
      t.ok(br.body.length < original.length * 0.4, `brotli: ${original.length} → ${br.body.length} bytes`)
      t.ok(gz.body.length < original.length * 0.4, `gzip: ${original.length} → ${gz.body.length} bytes`)
    }

    const part = await get(base, path, { 'accept-encoding': 'br', range: 'bytes=0-99' })
    t.equal(part.status, 206, 'a range is still served')
    t.equal(part.headers['content-encoding'], undefined, 'uncompressed: Content-Range counts the file\'s bytes')
    t.same(part.body, original.subarray(0, 100))

    const fresh = await get(base, path, { 'accept-encoding': 'br', 'if-none-match': etag })
    t.equal(fresh.status, 304, 'revalidation still answers 304')
    t.equal(fresh.body.length, 0)
  })
}

t.test('the API is not compressed', async t => {
  const res = await get(base, '/openapi.json', { 'accept-encoding': 'br, gzip', authorization: `Bearer ${ADMIN_TOKEN}` })
  t.equal(res.status, 200)
  t.equal(res.headers['content-encoding'], undefined)
  t.ok(JSON.parse(res.body.toString('utf8')).openapi)
})
