// Hardening drill, finding 5: a percent-encoded key was not masked — `ok1%2D…` in the path landed
// whole in the info-level access line, in the query in debug lines, and a fully encoded key in the
// query reached the upstream. Keys are now recognised after decoding (every spelling: `%2D`,
// every byte escaped, double escaped, lower-case hex) and masked in every log line and stripped
// from what goes upstream.
import t from 'tap'
import { containsKey, redactKeys } from '../../core/key-format.ts'
import { createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

const encodeAll = (s: string): string => [...s].map(c => '%' + c.charCodeAt(0).toString(16).padStart(2, '0')).join('')

t.test('encoded keys are recognised', async t => {
  const key = 'ok1-abc-0123456789abcdef-SECRETSECRET'
  for (const spelled of [key, key.replace(/-/g, '%2D'), key.replace(/-/g, '%2d'), encodeAll(key), encodeAll(key).replace(/%/g, '%25'), `%6Fk1-${key.slice(4)}`]) {
    t.ok(containsKey(spelled), `recognised: ${spelled.slice(0, 24)}…`)
    t.notMatch(redactKeys(`/mcp-connect/${spelled}?x=${spelled}&y=1`), /SECRET|%53%45%43/i, 'masked')
  }
  t.notOk(containsKey('/mcp-connect/up?page=2&q=ok%201'), 'an ordinary query is not a key')
  t.equal(redactKeys('/mcp-connect/up?page=2&q=a%20b'), '/mcp-connect/up?page=2&q=a%20b', 'and is left alone')
})

t.test('through the gateway: no log line and no upstream request carries an encoded key', async t => {
  const upstream = await startRawUpstream(t, (_req, res) => { res.end('{}') })
  const store = await sqliteStore(t)
  const gw = await startGateway(t, { store, config: testConfig({ log: { level: 'debug' }, servers: [{ id: 'up', url: `${upstream.origin}/mcp` }] }) })
  const good = await createTestKey(store)
  const secret = good.secret
  const spellings = [good.key.replace(/-/g, '%2D'), encodeAll(good.key), encodeAll(good.key).replace(/%/g, '%25')]
  for (const s of spellings) {
    for (const path of [`/mcp-connect/${s}`, `/mcp-connect/up/${s}`, `/mcp-connect/up?token=${s}&keep=1`, `/nowhere/${s}`]) {
      const res = await fetch(gw.url + path, { method: 'POST', headers: { authorization: `Bearer ${good.key}` }, body: '{}' })
      await res.arrayBuffer()
    }
  }
  const text = gw.logs.text()
  t.ok(gw.logs.lines.length > 20, `${gw.logs.lines.length} log lines at debug level`)
  t.notOk(text.includes(secret), 'the secret is in no log line')
  t.notOk(text.toLowerCase().includes(encodeAll(secret.slice(0, 8)).toLowerCase()), 'nor its encoded form')
  t.match(text, /ok1-\[redacted\]/, 'masked where it was')
  const forwarded = upstream.requests.filter(r => r.url.includes('keep=1'))
  t.equal(forwarded.length, spellings.length, 'requests with a key in the query still go upstream…')
  for (const r of forwarded) {
    t.equal(r.url, '/mcp?keep=1', '…without the pair that carried the key')
  }
})
