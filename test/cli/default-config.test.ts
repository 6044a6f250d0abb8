// Issue 28: without --config, MCPGATE_CONFIG or ./mcpgate.yaml, the CLI uses the demo config that
// `npm start` runs with — the same file, so the same store — and says so on stderr.
import t from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { demoConfigFor } from '../../cli/command.ts'
import { tempDir } from '../helpers/stores.ts'
import { runCli } from './run-cli.ts'

const root = fileURLToPath(new URL('../../', import.meta.url))
const demo = join(root, 'config', 'demo.yaml')

t.test('npm start\'s config is the fallback', async t => {
  const start = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start
  const flag = /--config (\S+)/.exec(start)?.[1] ?? ''
  t.equal(resolve(root, flag), demo, 'npm start (run in the package root) uses config/demo.yaml')

  const r = await runCli(['config', 'check'], { cwd: tempDir(t) })
  t.equal(r.code, 0, r.stderr)
  t.match(r.stderr, `mcpgate: using ${demo}, the demo config "npm start" uses (no --config, no MCPGATE_CONFIG, no ./mcpgate.yaml)`)
  t.match(r.stdout, `${demo}: ok (1 servers, store sqlite ${join(root, 'data', 'mcpgate.db')})`, 'its store is the data/ that npm start fills')
})

t.test('./mcpgate.yaml, when there is one, is used without a word', async t => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'mcpgate.yaml'), '{}\n')
  const r = await runCli(['config', 'check'], { cwd: dir })
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stderr, '')
  t.match(r.stdout, `mcpgate.yaml: ok (0 servers, store sqlite ${join(dir, 'data', 'mcpgate.db')})`)
})

t.test('compiled to dist/, the CLI still finds the checkout\'s config/demo.yaml', async t => {
  t.equal(demoConfigFor('file:///srv/mcpgate/cli/command.ts'), '/srv/mcpgate/config/demo.yaml')
  t.equal(demoConfigFor('file:///srv/mcpgate/dist/cli/command.js'), '/srv/mcpgate/config/demo.yaml')
})
