// `mcpgate users create --service`: a service account without an email, its groups deciding what
// its keys may reach; `users list --kind` shows one kind; `keys create --user <id>` gives it a key
// (a server its groups do not grant is refused); deleting it deletes its keys. On SQLite and Redis.
import t, { type Test } from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Io } from '../../cli/main.ts'
import { main } from '../../cli/main.ts'
import { parseKey } from '../../core/key-format.ts'
import { openStore } from '../../core/store/open.ts'
import { loadConfigFile } from '../../config/load.ts'
import { tempDir, testRedis } from '../helpers/stores.ts'

const servers = 'servers:\n  - id: alpha\n    url: http://127.0.0.1:9/mcp\n    access: { groups: [ci] }\n  - id: beta\n    url: http://127.0.0.1:9/mcp\n    access: { roles: [admin] }\n'
const hashing = 'hashing: { memoryCost: 1024, timeCost: 1 }\n'

async function scenario (t: Test, configFile: string): Promise<void> {
  const run = async (area: 'users' | 'keys', ...args: string[]) => {
    const lines: string[] = []
    const errs: string[] = []
    const io: Io = { out: l => lines.push(l), err: l => errs.push(l) }
    const code = await main([area, ...args, '--config', configFile], {}, io)
    return { code, lines, errs }
  }
  const made = await run('users', 'create', '--service', '--name', 'CI bot', '--groups', 'ci')
  t.equal(made.code, 0, made.errs.join('\n'))
  const m = /^created service account ([A-Za-z0-9]+) "CI bot" groups=ci$/.exec(made.lines[0] ?? '')
  t.ok(m, `printed: ${made.lines[0]}`)
  const id = m?.[1] ?? ''
  t.equal((await run('users', 'create', '--email', 'ada@example.com', '--name', 'Ada')).code, 0)

  const admin = await run('users', 'create', '--service', '--name', 'root bot', '--role', 'admin')
  t.equal(admin.code, 2, 'an admin service account is a usage error')
  t.match(admin.errs.join('\n'), '--service: a service account cannot be an admin')
  const noEmail = await run('users', 'create', '--name', 'Nobody')
  t.equal(noEmail.code, 2, 'a human still needs --email')
  t.match(noEmail.errs.join('\n'), '--email is required')

  const services = await run('users', 'list', '--kind', 'service')
  t.equal(services.lines.length, 2, 'the header and the one service account')
  t.match(services.lines[1], new RegExp(`^${id}\\s+service\\s+-\\s+CI bot\\s+user\\s+ci\\s+no\\s`))
  const humans = await run('users', 'list', '--kind', 'human')
  t.match(humans.lines.join('\n'), 'ada@example.com')
  t.notMatch(humans.lines.join('\n'), 'CI bot')
  t.equal((await run('users', 'list', '--kind', 'robot')).code, 2, 'an unknown kind is a usage error')

  const key = await run('keys', 'create', '--user', id, '--name', 'pipeline', '--servers', 'alpha')
  t.equal(key.code, 0, key.errs.join('\n'))
  const parsed = parseKey(key.lines[0] ?? '')
  t.ok(parsed.ok && parsed.key.userId === id, 'a key owned by the service account')
  t.match(key.errs.join('\n'), 'for "CI bot"')
  const refused = await run('keys', 'create', '--user', id, '--name', 'x', '--servers', 'beta')
  t.equal(refused.code, 1, 'a server its groups do not grant')
  t.match(refused.errs.join('\n'), 'MCP server "beta" not found')
  t.match((await run('keys', 'list')).lines.join('\n'), `CI bot (${id})`, 'listed by name and id, having no email')

  const del = await run('users', 'delete', id)
  t.equal(del.code, 0, del.errs.join('\n'))
  t.equal(del.lines[0], `deleted service account ${id} "CI bot" and all their keys`)
  const store = openStore(loadConfigFile(configFile, {}).store)
  t.teardown(() => store.close())
  if (parsed.ok) t.equal(await store.getKey(parsed.key.keyId), null, 'its key went with it')
  t.equal((await store.listKeys({ limit: 10 })).items.length, 0)
}

t.test('on SQLite', async t => {
  const dir = tempDir(t)
  const file = join(dir, 'mcpgate.yaml')
  writeFileSync(file, `store: { type: sqlite, path: ${join(dir, 'db.sqlite')} }\n${hashing}${servers}`)
  await scenario(t, file)
})

t.test('on Redis', async t => {
  const redis = await testRedis(t)
  const dir = tempDir(t)
  const file = join(dir, 'mcpgate.yaml')
  writeFileSync(file, `store: { type: redis, url: "${redis.url}", prefix: "svc:" }\n${hashing}${servers}`)
  await scenario(t, file)
})
