// Issue 22, item 10, the CLI path: `mcpgate users create --email` applies the same email rule as
// the admin API (core/email.ts): a control or invisible character is refused naming `--email` (a
// usage error, exit 2: issue 28), with nothing written; surrounding whitespace and case do not make
// a second user (a refusal, exit 1).
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { main, type Io } from '../../cli/main.ts'
import { openStore } from '../../core/store/open.ts'
import { loadConfigFile } from '../../config/load.ts'
import { tempDir } from '../helpers/stores.ts'

function capture (): Io & { lines: string[], errs: string[] } {
  const lines: string[] = []
  const errs: string[] = []
  return { lines, errs, out: l => lines.push(l), err: l => errs.push(l) }
}

t.test('users create refuses a lookalike email and keeps one user per address', async t => {
  const dir = tempDir(t)
  const configFile = join(dir, 'mcpgate.yaml')
  writeFileSync(configFile, `store: { type: sqlite, path: ${JSON.stringify(join(dir, 'data.db'))} }\n`)
  const run = async (...args: string[]) => {
    const io = capture()
    const code = await main(['users', 'create', ...args, '--config', configFile], {}, io)
    return { code, ...io }
  }

  const first = await run('--email', 'a@example.com', '--name', 'A')
  t.equal(first.code, 0, first.errs.join('\n'))
  for (const email of ['a@example.com\u0000', 'a@example.com\u200b', 'a\u0007@example.com', 'a@exam ple.com']) {
    const r = await run('--email', email, '--name', 'B')
    t.equal(r.code, 2, `${encodeURIComponent(email)}: refused, a usage error`)
    t.match(r.errs.join('\n'), /^mcpgate: --email: /, 'names the flag')
  }
  const same = await run('--email', '  A@Example.com\n', '--name', 'C')
  t.equal(same.code, 1)
  t.match(same.errs.join('\n'), 'MCPGATE_EMAIL_TAKEN')

  const store = openStore(loadConfigFile(configFile, {}).store)
  t.teardown(() => store.close())
  t.same((await store.listUsers({ limit: 50 })).items.map(u => u.email), ['a@example.com'], 'one user')
})
