// `mcpgate keys rotate <id> [--overlap …]` on the configured store: a new key with the same id is
// printed once, its secret verifies against the stored hash, the old secret is kept for the
// overlap (or not at all with --overlap 0), and a bad --overlap is a usage error naming the flag.
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { main, type Io } from '../../cli/main.ts'
import { parseKey } from '../../core/key-format.ts'
import { verifySecret } from '../../core/hashing.ts'
import { openStore } from '../../core/store/open.ts'
import { loadConfigFile } from '../../config/load.ts'
import { tempDir } from '../helpers/stores.ts'

function capture (): Io & { lines: string[], errs: string[] } {
  const lines: string[] = []
  const errs: string[] = []
  return { lines, errs, out: l => lines.push(l), err: l => errs.push(l) }
}

t.test('keys rotate', async t => {
  const dir = tempDir(t)
  const configFile = join(dir, 'mcpgate.yaml')
  writeFileSync(configFile, `store: { type: sqlite, path: ${join(dir, 'db.sqlite')} }\nhashing: { memoryCost: 1024, timeCost: 1 }\nservers:\n  - id: alpha\n    url: http://127.0.0.1:9/mcp\n`)
  const run = async (...args: string[]) => {
    const io = capture()
    const code = await main([...args, '--config', configFile], {}, io)
    return { code, ...io }
  }
  t.equal((await run('users', 'create', '--email', 'ci@example.com', '--name', 'CI')).code, 0)
  const created = await run('keys', 'create', '--user', 'ci@example.com', '--name', 'ci', '--servers', 'alpha')
  const original = parseKey(created.lines[0] ?? '')
  if (!original.ok) throw new Error('no key printed')
  const keyId = original.key.keyId

  const rotated = await run('keys', 'rotate', keyId, '--overlap', '2h')
  t.equal(rotated.code, 0, rotated.errs.join('\n'))
  const next = parseKey(rotated.lines[0] ?? '')
  t.ok(next.ok && next.key.keyId === keyId && next.key.secret !== original.key.secret, 'a new secret, the same key id, printed once')
  t.match(rotated.errs.join('\n'), /the old key works until \d{4}-\d\d-\d\dT/, 'says until when the old key works')

  const store = openStore(loadConfigFile(configFile, {}).store)
  t.teardown(() => store.close())
  const record = await store.getKey(keyId)
  t.ok(next.ok && await verifySecret(record?.secretHash ?? '', next.key.secret), 'the new secret verifies')
  t.ok(await verifySecret(record?.previousSecretHash ?? '', original.key.secret), 'the old one is kept for the overlap')
  t.ok(Math.abs((record?.previousUntil ?? 0) - (Date.now() + 7_200_000)) < 60_000, 'for two hours')

  const again = await run('keys', 'rotate', keyId, '--overlap', '0')
  t.equal(again.code, 0)
  t.equal((await store.getKey(keyId))?.previousSecretHash, undefined, '--overlap 0: the old secret is gone at once')

  const bad = await run('keys', 'rotate', keyId, '--overlap', 'soon')
  t.equal(bad.code, 2, 'a usage error')
  t.match(bad.errs.join('\n'), /--overlap/, 'naming the flag')
})
