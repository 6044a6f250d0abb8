// Issue 28: every variable the config reads may come from a file named by NAME_FILE (Docker and
// Kubernetes secrets): the file is read, one trailing newline trimmed; NAME and NAME_FILE both set,
// an unreadable or an empty file are errors naming the variable; a problem with a value the
// environment set names the variable, never the value.
import t from 'tap'
import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError, parseConfigText } from '../../config/load.ts'
import { tempDir } from '../helpers/stores.ts'

function problems (text: string, env: Record<string, string>): string[] {
  try {
    parseConfigText(text, env)
  } catch (err) {
    if (err instanceof ConfigError) return err.problems
    throw err
  }
  return []
}

const TOKEN = 'admin-token-from-a-secret-0123456789'

t.test('MCPGATE_ADMIN_TOKEN_FILE: the file is read and its trailing newline trimmed', async t => {
  const dir = tempDir(t)
  const file = join(dir, 'admin_token')
  writeFileSync(file, TOKEN + '\n')
  t.equal(parseConfigText('', { MCPGATE_ADMIN_TOKEN_FILE: file }).admin.token, TOKEN)
  writeFileSync(file, TOKEN + '\r\n')
  t.equal(parseConfigText('', { MCPGATE_ADMIN_TOKEN_FILE: file }).admin.token, TOKEN, 'CRLF too')
  writeFileSync(file, TOKEN)
  t.equal(parseConfigText('', { MCPGATE_ADMIN_TOKEN_FILE: file }).admin.token, TOKEN, 'no newline: as is')
  t.equal(parseConfigText('', { MCPGATE_ADMIN_TOKEN_FILE: '', MCPGATE_ADMIN_TOKEN: TOKEN }).admin.token, TOKEN, 'an empty _FILE counts as unset')
})

t.test('every override and every ${VAR} of the file accepts _FILE', async t => {
  const dir = tempDir(t)
  const write = (name: string, value: string) => { writeFileSync(join(dir, name), value); return join(dir, name) }
  const c = parseConfigText([
    'servers:',
    '  - id: github',
    '    url: http://127.0.0.1:9000/mcp',
    '    headers: { Authorization: "Bearer ${GH_TOKEN}" }'
  ].join('\n'), {
    GH_TOKEN_FILE: write('gh', 'ghp-secret\n'),
    MCPGATE_STORE_TYPE_FILE: write('type', 'redis\n'),
    MCPGATE_STORE_URL_FILE: write('url', 'redis://:pw@redis:6379\n'),
    MCPGATE_GATEWAY_PORT_FILE: write('port', '9999\n')
  })
  t.same(c.servers[0]?.headers, { Authorization: 'Bearer ghp-secret' }, 'no newline left in the header value')
  t.equal(c.store.type, 'redis')
  t.equal(c.store.url, 'redis://:pw@redis:6379')
  t.equal(c.gateway.port, 9999)
})

t.test('NAME and NAME_FILE both set: an error naming both, for overrides and ${VAR}s alike', async t => {
  const dir = tempDir(t)
  const file = join(dir, 't')
  writeFileSync(file, TOKEN)
  t.same(problems('', { MCPGATE_ADMIN_TOKEN: TOKEN, MCPGATE_ADMIN_TOKEN_FILE: file }), ['MCPGATE_ADMIN_TOKEN and MCPGATE_ADMIN_TOKEN_FILE are both set: set one of them'])
  t.same(problems('servers:\n  - id: a\n    url: http://x/\n    headers: { X: "${TOK}" }\n', { TOK: 'a', TOK_FILE: file }),
    ['servers[0].headers.X: TOK and TOK_FILE are both set: set one of them'])
})

t.test('an unreadable or empty file: an error naming the variable and the file', async t => {
  const dir = tempDir(t)
  const missing = join(dir, 'nope')
  t.same(problems('', { MCPGATE_ADMIN_TOKEN_FILE: missing }), [`MCPGATE_ADMIN_TOKEN_FILE: cannot read ${missing}: ENOENT`])
  t.same(problems('', { MCPGATE_ADMIN_TOKEN_FILE: dir }), [`MCPGATE_ADMIN_TOKEN_FILE: cannot read ${dir}: EISDIR`], 'a directory')
  const empty = join(dir, 'empty')
  writeFileSync(empty, '\n')
  t.same(problems('', { MCPGATE_ADMIN_TOKEN_FILE: empty }), [`MCPGATE_ADMIN_TOKEN_FILE: ${empty} is empty`], 'an empty secret is not "no token"')
  t.same(problems('servers:\n  - id: a\n    url: http://x/\n    headers: { X: "${TOK}" }\n', { TOK_FILE: missing }),
    [`servers[0].headers.X: TOK_FILE: cannot read ${missing}: ENOENT`])
  if (process.getuid?.() !== 0) {
    // root reads anything: only checkable as another user.
    const locked = join(dir, 'locked')
    writeFileSync(locked, TOKEN)
    chmodSync(locked, 0)
    t.same(problems('', { MCPGATE_ADMIN_TOKEN_FILE: locked }), [`MCPGATE_ADMIN_TOKEN_FILE: cannot read ${locked}: EACCES`])
  }
})

t.test('a bad value from the environment names the variable, not the file, and never shows the value', async t => {
  const dir = tempDir(t)
  const short = 'short-secret'
  const [fromVar] = problems('admin: { port: 8081 }\n', { MCPGATE_ADMIN_TOKEN: short })
  t.match(fromVar, /^admin\.token, from the environment variable MCPGATE_ADMIN_TOKEN: expected string length greater or equal to 16/)
  const file = join(dir, 't')
  writeFileSync(file, short + '\n')
  const [fromFile] = problems('', { MCPGATE_ADMIN_TOKEN_FILE: file })
  t.match(fromFile, `admin.token, from the environment variable MCPGATE_ADMIN_TOKEN_FILE (${file}): expected string length`)
  t.notMatch(`${fromVar} ${fromFile}`, short, 'the secret is not echoed')
  t.match(problems('', { MCPGATE_STORE_TYPE: 'redis', MCPGATE_STORE_URL: 'memcached://x' }), [/^store\.url, from the environment variable MCPGATE_STORE_URL: /])
  t.match(problems('admin: { token: short }\n', {}), [/^admin\.token: expected string length/], 'a value from the file is the file\'s')
  t.match(problems('', { MCPGATE_STORE_TYPE: 'mysql' }), [/^store\.type, from the environment variable MCPGATE_STORE_TYPE: /])
})
