// `mcpgate oauth rotate-signing-key` as an operator runs it (the bin, a config file, the store the
// admin API uses): a new key signs, the previous one is kept for verification until its
// retention ends, and the output says which is which. Exit 0; the store holds both keys.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { authorizationServerSecrets } from '../../core/oauth.ts'
import { SqliteStore } from '../../core/store/sqlite.ts'
import { tempDir } from '../helpers/stores.ts'

const bin = new URL('../../bin/mcpgate.js', import.meta.url).pathname

t.test('rotating the store-held signing key', async t => {
  const dir = tempDir(t)
  const dbPath = join(dir, 'mcpgate.db')
  const before = new SqliteStore({ path: dbPath })
  const first = (await authorizationServerSecrets(before)).keys[0]?.kid as string
  before.close()
  const config = join(dir, 'mcpgate.yaml')
  writeFileSync(config, `store:\n  type: sqlite\n  path: ${dbPath}\noauth:\n  accessTokenTtlSeconds: 600\n`)

  const started = Date.now()
  const r = spawnSync(process.execPath, [bin, 'oauth', 'rotate-signing-key', '--config', config], { encoding: 'utf8', timeout: 30000, env: { PATH: process.env.PATH ?? '' } })
  t.equal(r.status, 0, `exit 0 ${r.stderr}`)
  const signing = /rotated the OAuth signing key: (\S+) signs from now on/.exec(r.stdout)?.[1]
  t.ok(signing, 'names the new signing key')
  t.not(signing, first, 'a new one')
  const until = new RegExp(`^  ${first} verifies until (\\S+)$`, 'm').exec(r.stdout)?.[1]
  t.ok(until, 'the previous key is kept, and the output says until when')
  const untilMs = Date.parse(until as string)
  t.ok(untilMs >= started + 660_000 && untilMs <= Date.now() + 660_000, 'the access token lifetime + 60 s from now')

  const after = new SqliteStore({ path: dbPath })
  t.teardown(() => after.close())
  t.same((await authorizationServerSecrets(after)).keys.map(k => k.kid), [signing, first], 'the store: the new key first (it signs), the old one after it')
})
