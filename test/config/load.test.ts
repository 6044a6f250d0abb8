// Config loading: defaults, interpolation, env overrides, freezing, and messages that name the field.
import t from 'tap'
import { ConfigError, parseConfigText } from '../../config/load.ts'

t.test('an empty file gives every default', async t => {
  const c = parseConfigText('')
  t.equal(c.gateway.port, 8080)
  t.equal(c.admin.port, 8081)
  t.equal(c.store.type, 'sqlite')
  t.equal(c.store.commandTimeoutMs, 250)
  t.same(c.hashing, { memoryCost: 19456, timeCost: 2, parallelism: 1 })
  t.equal(c.gateway.cache.revalidateMs, 30000)
  t.equal(c.gateway.cache.graceMs, 60000)
  t.equal(c.gateway.lastUsedFlushMs, 10000)
  t.ok(Object.isFrozen(c) && Object.isFrozen(c.gateway.cache), 'frozen')
})

t.test('server defaults, ${VAR} interpolation and env overrides', async t => {
  const c = parseConfigText([
    'servers:',
    '  - id: github',
    '    url: http://127.0.0.1:9000/mcp',
    '    headers: { Authorization: "Bearer ${GH_TOKEN}" }'
  ].join('\n'), { GH_TOKEN: 'abc', MCPGATE_GATEWAY_PORT: '9999', MCPGATE_STORE_PATH: '/tmp/x.db' })
  const s = c.servers[0]!
  t.equal(s.name, 'github')
  t.equal(s.access, 'everyone')
  t.same(s.headers, { Authorization: 'Bearer abc' })
  t.equal(s.timeouts.connectMs, 5000)
  t.equal(s.timeouts.headersMs, 300000)
  t.equal(c.gateway.port, 9999)
  t.equal(c.store.path, '/tmp/x.db')
})

function problems (text: string, env = {}): string[] {
  try {
    parseConfigText(text, env)
  } catch (err) {
    if (err instanceof ConfigError) return err.problems
    throw err
  }
  return []
}

t.test('mistakes are reported with the field name', async t => {
  t.same(problems('servers:\n  - id: a\n    url: http://x/mcp\n  - id: b\n    url: ftp://x/mcp\n'), ['servers[1].url: must be an http(s) URL without credentials'])
  t.match(problems('gateway: { port: abc }\n'), [/^gateway\.port: expected integer/])
  t.match(problems('servers:\n  - id: Bad_ID\n    url: http://x/\n'), [/^servers\[0\]\.id: /])
  t.match(problems('servers:\n  - id: a\n    url: http://x/\n    bogus: 1\n'), [/^servers\[0\]\.bogus: unexpected property/])
  t.match(problems('servers:\n  - id: a\n    url: http://x/\n  - id: a\n    url: http://y/\n'), [/^servers\[1\]\.id: duplicate server id "a"/])
  t.match(problems('store: { type: redis }\n'), [/^store\.url: required/])
  for (const field of ['commandTimeoutMs', 'connectTimeoutMs', 'pollMs']) {
    // 0 would otherwise pass here and fail later, in the store, under another name.
    t.match(problems(`store: { ${field}: 0 }\n`), [new RegExp(`^store\\.${field}: `)], `store.${field} must be positive`)
  }
  t.match(problems('servers:\n  - id: a\n    url: http://x/\n    headers: { X: "${NOPE}" }\n'), [/^servers\[0\]\.headers\.X: environment variable NOPE is not set/])
  t.match(problems('gateway: [1'), [/^\(yaml\)/])
  t.match(problems('', { MCPGATE_ADMIN_PORT: 'x' }), [/^MCPGATE_ADMIN_PORT: must be an integer/])
})
