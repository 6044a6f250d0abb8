// Issue 28: operator commands find the store the config names wherever they run (a relative
// store.path is taken from the config file's directory), read commands never create a store (a
// clear error naming the missing file instead of an empty list), and MCPGATE_CONFIG names the
// config when --config does not.
import t from 'tap'
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { main } from '../../cli/main.ts'
import { tempDir } from '../helpers/stores.ts'
import { runCli } from './run-cli.ts'

t.test('a relative store path is the config file\'s, and only users create makes a store', async t => {
  const root = tempDir(t)
  const etc = join(root, 'etc')
  const elsewhere = join(root, 'elsewhere')
  mkdirSync(etc)
  mkdirSync(elsewhere)
  writeFileSync(join(etc, 'mcpgate.yaml'), 'store: { type: sqlite, path: ./data/m.db }\nhashing: { memoryCost: 1024, timeCost: 1 }\nservers:\n  - id: a\n    url: http://127.0.0.1:9/mcp\n')
  const store = join(etc, 'data', 'm.db')
  const config = '../etc/mcpgate.yaml'

  for (const args of [['users', 'list'], ['keys', 'list']]) {
    const r = await runCli([...args, '--config', config], { cwd: elsewhere })
    t.equal(r.code, 1, `${args.join(' ')}: fails`)
    t.match(r.stderr, `no SQLite store at ${store} (store.path of ${config}); "${args[0]} ${args[1]}" creates none`, 'naming the file it looked for')
  }
  // The other commands that need an existing store, in-process (the config path is absolute here).
  for (const args of [['keys', 'delete', 'x'], ['users', 'delete', 'a@example.com'], ['keys', 'rotate', 'x'],
    ['keys', 'create', '--user', 'a@example.com', '--name', 'k', '--servers', 'a']]) {
    const err: string[] = []
    const code = await main([...args, '--config', join(etc, 'mcpgate.yaml')], {}, { out: () => {}, err: l => err.push(l) })
    t.equal(code, 1, `${args.join(' ')}: fails`)
    t.match(err.join('\n'), `no SQLite store at ${store}`)
  }
  t.notOk(existsSync(join(etc, 'data')), 'no store was created beside the config')
  t.same(readdirSync(elsewhere), [], 'nor where the commands ran')

  const made = await runCli(['users', 'create', '--email', 'a@example.com', '--name', 'A', '--config', config], { cwd: elsewhere })
  t.equal(made.code, 0, made.stderr)
  t.ok(existsSync(store), 'users create makes the store, where the config says')
  t.same(readdirSync(elsewhere), [], 'not in the working directory')

  const fromHere = await runCli(['users', 'list'], { cwd: etc })
  t.match(fromHere.stdout, 'a@example.com', 'from the config\'s directory, ./mcpgate.yaml by default: the same store')
  const fromEnv = await runCli(['users', 'list'], { cwd: elsewhere, env: { MCPGATE_CONFIG: join(etc, 'mcpgate.yaml') } })
  t.equal(fromEnv.code, 0, fromEnv.stderr)
  t.match(fromEnv.stdout, 'a@example.com', 'MCPGATE_CONFIG names the config')
  t.notMatch(fromEnv.stderr, 'demo config', 'and no fallback is announced')
})
