// A signing key file the admin API cannot sign with refuses its start, naming oauth.signingKeyFile
// and what is wrong, instead of starting with a key of its own in the store (the operator asked
// for none there): a missing file, an RSA key, a P-384 key, a public key only, text that is no key.
import t from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pino } from 'pino'
import { buildAdmin } from '../../admin-api/app.ts'
import { main } from '../../cli/main.ts'
import { buildConfig, ConfigError } from '../../config/load.ts'
import { sqliteStore, tempDir } from '../helpers/stores.ts'

const oidc = { issuer: 'https://idp.example.com', audience: 'mcpgate' }

function pem (type: 'rsa' | 'ec', namedCurve?: string): string {
  const { privateKey } = type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: namedCurve ?? 'P-256' })
  return privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
}

t.test('buildAdmin refuses each, naming the field and the problem', async t => {
  const dir = tempDir(t)
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const cases: Array<{ name: string, content: string | null, problem: RegExp }> = [
    { name: 'a missing file', content: null, problem: /cannot read .*missing\.pem: ENOENT/ },
    { name: 'an RSA key', content: pem('rsa'), problem: /is an RSA key; it must be an EC P-256 \(ES256\) private key/ },
    { name: 'a P-384 key', content: pem('ec', 'P-384'), problem: /is an EC secp384r1 key; it must be an EC P-256/ },
    { name: 'a public key only', content: JSON.stringify(ec.publicKey.export({ format: 'jwk' })), problem: /the first key of .* is a public key/ },
    { name: 'an RSA JWK', content: JSON.stringify(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' })), problem: /is an RSA key/ },
    { name: 'garbage', content: 'not a key at all', problem: /is neither PEM nor JSON/ },
    { name: 'a broken PEM', content: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n', problem: /PEM block 1 of .* is not a key this server can read/ },
    { name: 'an empty key set', content: '{"keys":[]}', problem: /holds no key/ }
  ]
  for (const c of cases) {
    const file = join(dir, c.content === null ? 'missing.pem' : `${c.name.replace(/\W+/g, '-')}.key`)
    if (c.content !== null) writeFileSync(file, c.content)
    const config = buildConfig({ admin: { port: 0, oidc }, oauth: { enabled: true, signingKeyFile: file }, log: { level: 'silent' } })
    const store = await sqliteStore(t)
    const err = await buildAdmin(config, { store, logger: pino({ level: 'silent' }), console: false }).then(app => app.close(), (e: unknown) => e)
    t.type(err, ConfigError, `${c.name}: refused as a config error`)
    t.match((err as Error).message, /oauth\.signingKeyFile: /, `${c.name}: names oauth.signingKeyFile`)
    t.match((err as Error).message, c.problem, `${c.name}: says what is wrong`)
    t.equal(await store.getRecord('oauth:secrets'), null, `${c.name}: no key was made in the store instead`)
  }
})

t.test('mcpgate admin exits 2 with the problem on stderr', async t => {
  const dir = tempDir(t)
  const config = join(dir, 'mcpgate.yaml')
  writeFileSync(config, [
    'admin: { host: 127.0.0.1, port: 0, oidc: { issuer: "https://idp.example.com", audience: mcpgate } }',
    'store: { type: sqlite, path: ./data/mcpgate.db }',
    'oauth: { enabled: true, signingKeyFile: keys/signing.pem }',
    'log: { level: silent }'
  ].join('\n'))
  const out: string[] = []
  const err: string[] = []
  const code = await main(['admin', '--config', config], {}, { out: l => out.push(l), err: l => err.push(l) })
  t.equal(code, 2, 'exit 2: a bad config')
  t.match(err.join('\n'), `oauth.signingKeyFile: cannot read ${join(dir, 'keys', 'signing.pem')}: ENOENT`, 'the path resolved from the config file\'s directory, and why')
  t.same(out, [], 'nothing announced as listening')
})
