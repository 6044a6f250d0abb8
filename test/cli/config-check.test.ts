// `mcpgate config check`: broken files give clear messages naming the field and exit code 2.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const bin = new URL('../../bin/mcpgate.js', import.meta.url).pathname
const dir = mkdtempSync(join(tmpdir(), 'mcpgate-cfg-'))

function check (name: string, text: string, env: Record<string, string> = {}) {
  const file = join(dir, name)
  writeFileSync(file, text)
  const r = spawnSync(process.execPath, [bin, 'config', 'check', '--config', file], { encoding: 'utf8', timeout: 30000, env: { PATH: process.env.PATH ?? '', ...env } })
  return { code: r.status, stderr: r.stderr, stdout: r.stdout }
}

t.test('a non-http upstream url names servers[1].url', async t => {
  const r = check('a.yaml', 'servers:\n  - id: a\n    url: http://127.0.0.1:9000/mcp\n  - id: b\n    url: ftp://example/mcp\n')
  t.equal(r.code, 2)
  t.match(r.stderr, 'servers[1].url: must be an http(s) URL')
})

t.test('a wrong type names the field', async t => {
  const r = check('b.yaml', 'gateway:\n  port: eighty\n')
  t.equal(r.code, 2)
  t.match(r.stderr, 'gateway.port: expected integer')
})

t.test('an unknown field is rejected by name', async t => {
  const r = check('c.yaml', 'store:\n  type: sqlite\n  pth: ./x.db\n')
  t.equal(r.code, 2)
  t.match(r.stderr, 'store.pth: unexpected property')
})

t.test('an upstream header value that ends in a newline after ${VAR} interpolation names the field', async t => {
  // Issue 22, item 7: it passed, and every call to that server then failed with 502.
  const r = check('d.yaml', 'servers:\n  - id: a\n    url: http://127.0.0.1:9000/mcp\n    headers: { Authorization: "Bearer ${A_TOKEN}" }\n', { A_TOKEN: 'tok-5ecret\n' })
  t.equal(r.code, 2)
  t.match(r.stderr, 'servers[0].headers.Authorization: ')
  t.match(r.stderr, 'control character U+000A')
  t.notMatch(r.stderr + r.stdout, 'tok-5ecret', 'the value is not echoed')
})

t.test('a missing file is a config error too', async t => {
  const r = spawnSync(process.execPath, [bin, 'config', 'check', '--config', join(dir, 'nope.yaml')], { encoding: 'utf8', timeout: 30000 })
  t.equal(r.status, 2)
  t.match(r.stderr, /cannot read .*nope\.yaml: ENOENT/)
})

t.test('a good file passes with exit 0', async t => {
  const r = check('ok.yaml', 'servers:\n  - id: a\n    url: http://127.0.0.1:9000/mcp\n')
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, `ok (1 servers, store sqlite ${join(dir, 'data', 'mcpgate.db')})`, 'the store the commands would use, resolved from the file\'s directory')
})

t.test('unknown commands and bad flags are usage errors on stderr with exit 2', async t => {
  const r = spawnSync(process.execPath, [bin, 'frobnicate'], { encoding: 'utf8', timeout: 30000 })
  t.equal(r.status, 2)
  t.match(r.stderr, 'unknown command "frobnicate"')
  const h = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8', timeout: 30000 })
  t.equal(h.status, 0)
  t.match(h.stdout, 'mcpgate keys create')
})

t.test('OAuth mode: the signing key file is read as the admin API reads it', async t => {
  const oauth = (file: string) => `admin:\n  oidc: { issuer: https://idp.invalid, audience: mcpgate, clientId: console }\noauth:\n  enabled: true\n  signingKeyFile: ${file}\n`
  writeFileSync(join(dir, 'rsa.json'), JSON.stringify({ kty: 'RSA', n: 'AQAB', e: 'AQAB' }))
  const broken = check('k1.yaml', oauth('rsa.json'))
  t.equal(broken.code, 2, 'a file holding no EC P-256 key: exit 2')
  t.match(broken.stderr, /oauth\.signingKeyFile: .*rsa\.json/, 'naming the field and the file')
  const missing = check('k2.yaml', oauth('absent.pem'))
  t.equal(missing.code, 2)
  t.match(missing.stderr, /oauth\.signingKeyFile: cannot read .*absent\.pem: ENOENT/, 'a missing file')
  const { generateKeyPairSync } = await import('node:crypto')
  writeFileSync(join(dir, 'good.pem'), generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }))
  const good = check('k3.yaml', oauth('good.pem'))
  t.equal(good.code, 0, `an EC P-256 private key passes ${good.stderr}`)
  t.match(good.stdout, ': ok (')
})
