// `mcpgate users create` + `mcpgate keys create|list|delete` on SQLite and on Redis: the printed key
// parses, its secret verifies against the stored hash, list shows no secret, delete leaves no trace.
import t, { type Test } from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Io } from '../../cli/main.ts'
import { main } from '../../cli/main.ts'
import { parseKey } from '../../core/key-format.ts'
import { verifySecret } from '../../core/hashing.ts'
import { openStore } from '../../core/store/open.ts'
import { loadConfigFile } from '../../config/load.ts'
import { tempDir, testRedis } from '../helpers/stores.ts'

function capture (): Io & { lines: string[], errs: string[] } {
  const lines: string[] = []
  const errs: string[] = []
  return { lines, errs, out: l => lines.push(l), err: l => errs.push(l) }
}

const servers = 'servers:\n  - id: alpha\n    url: http://127.0.0.1:9/mcp\n  - id: beta\n    url: http://127.0.0.1:9/mcp\n    access: { roles: [admin] }\n'
const hashing = 'hashing: { memoryCost: 1024, timeCost: 1 }\n'

async function scenario (t: Test, configFile: string, inspect?: (keyId: string) => Promise<string[]>) {
  const run = async (area: 'users' | 'keys', ...args: string[]) => {
    const io = capture()
    const code = await main([area, ...args, '--config', configFile], {}, io)
    return { code, ...io }
  }
  const u = await run('users', 'create', '--email', 'Ada@Example.com', '--name', 'Ada', '--groups', 'eng,ops')
  t.equal(u.code, 0, u.errs.join('\n'))
  t.match(u.lines[0], /^created user [A-Za-z0-9]+ <ada@example\.com> role=user groups=eng,ops$/)

  const k = await run('keys', 'create', '--user', 'ada@example.com', '--name', 'ci', '--servers', 'alpha', '--expires', '30d')
  t.equal(k.code, 0, k.errs.join('\n'))
  const key = k.lines[0] ?? ''
  const parsed = parseKey(key)
  t.ok(parsed.ok, 'printed key parses')
  if (!parsed.ok) return
  t.ok(k.errs.join('\n').includes('shown once'), 'tells the operator the key is shown once')

  const store = openStore(loadConfigFile(configFile, {}).store)
  t.teardown(() => store.close())
  const record = await store.getKey(parsed.key.keyId)
  t.ok(record, 'record stored')
  t.equal(record?.userId, parsed.key.userId)
  t.ok(await verifySecret(record?.secretHash ?? '', parsed.key.secret), 'secret verifies against the stored hash')
  t.ok(record !== null && record.expiresAt !== null && record.expiresAt > Date.now() + 29 * 86_400_000)

  const unreachable = await run('keys', 'create', '--user', 'ada@example.com', '--name', 'x', '--servers', 'beta')
  t.equal(unreachable.code, 1)
  t.match(unreachable.errs.join('\n'), 'MCP server "beta" not found')

  const list = await run('keys', 'list')
  t.equal(list.code, 0)
  const listed = list.lines.join('\n')
  t.match(listed, parsed.key.keyId)
  t.match(listed, 'ada@example.com')
  t.notMatch(listed, parsed.key.secret, 'no secret in the list')
  t.notMatch(listed, '$argon2', 'no hash in the list')

  const del = await run('keys', 'delete', parsed.key.keyId)
  t.equal(del.code, 0, del.errs.join('\n'))
  t.equal(await store.getKey(parsed.key.keyId), null)
  t.equal((await store.listKeys({ limit: 100 })).items.length, 0)
  t.equal((await store.listKeys({ limit: 100, userId: parsed.key.userId })).items.length, 0)
  if (inspect !== undefined) t.same(await inspect(parsed.key.keyId), [], 'no Redis key or index member mentions the deleted key')

  const again = await run('keys', 'delete', parsed.key.keyId)
  t.equal(again.code, 1)
  t.match(again.errs.join('\n'), 'MCPGATE_API_KEY_NOT_FOUND')

  const users = await run('users', 'list')
  t.match(users.lines.join('\n'), 'ada@example.com')
  const missing = capture()
  t.equal(await main(['keys', 'create', '--config', configFile, '--name', 'x', '--servers', 'alpha'], {}, missing), 2, 'missing --user is a usage error')
  t.match(missing.errs.join('\n'), '--user is required')
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
  writeFileSync(file, `store: { type: redis, url: "${redis.url}", prefix: "cli:" }\n${hashing}${servers}`)
  await scenario(t, file, async keyId => {
    const client = redis.client()
    const names = await client.keys('cli:*')
    const hits: string[] = names.filter(n => n.includes(keyId))
    for (const n of names) {
      const type = await client.type(n)
      if (type === 'zset') for (const m of await client.zrange(n, 0, -1)) if (m.includes(keyId)) hits.push(`${n} ∋ ${m}`)
    }
    return hits
  })
})
