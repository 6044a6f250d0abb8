// Issue 28, "CLI and first run": what `npm start` prints works as printed. The curl shows the
// answer's headers (-i), so the Mcp-Session-Id that README says to copy is there, and the second
// printed curl, given that session id, lists the demo tools; afterwards the operator commands, run
// from another directory with the same --config, see the demo user and key in the same store.
import t from 'tap'
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { tempDir } from '../helpers/stores.ts'
import { freePort, runCli, startCli } from './run-cli.ts'

const exec = promisify(execFile)

/** The banner's shell command that starts with `curl`, continuation lines joined. */
function curlCommands (banner: string): string[] {
  return banner.replace(/\\\n\s*/g, ' ').split('\n').map(l => l.trim()).filter(l => l.startsWith('curl -'))
}

t.test('npm start: the printed curls work as printed, and the CLI then sees the demo store', async t => {
  // A checkout's layout: config/demo.yaml with its store in ../data, as the real one.
  const root = tempDir(t)
  mkdirSync(join(root, 'config'))
  const config = join(root, 'config', 'demo.yaml')
  const demo = readFileSync(new URL('../../config/demo.yaml', import.meta.url), 'utf8')
  writeFileSync(config, demo
    .replace(/port: 8080/, 'port: 0').replace(/port: 8081/, 'port: 0')
    .replace('http://127.0.0.1:9300/mcp', `http://127.0.0.1:${await freePort()}/mcp`) +
    'hashing: { memoryCost: 1024, timeCost: 1 }\n')

  const started = await startCli(t, ['start', '--demo', '--config', config], {
    cwd: root,
    env: { MCPGATE_ADMIN_TOKEN: 'first-run-admin-token-0123456789' },
    ready: out => out.includes('Admin API and web console')
  })
  const banner = started.output()
  const [init, list] = curlCommands(banner)
  t.match(init, /^curl -si /, 'the initialize curl shows the answer\'s headers')
  t.ok(existsSync(join(root, 'data', 'mcpgate.db')), 'the store is data/ at the checkout\'s root, beside config/')

  const answer = (await exec('bash', ['-c', init ?? 'false'])).stdout
  const session = /^mcp-session-id:\s*(\S+)/im.exec(answer)?.[1]
  t.ok(session, 'the answer shows the Mcp-Session-Id header', { answer: answer.slice(0, 400) })
  t.match(answer, '"serverInfo"', 'and the initialize result')
  const tools = (await exec('bash', ['-c', list ?? 'false'], { env: { PATH: process.env.PATH ?? '', SESSION: session ?? '' } })).stdout
  t.match(tools, '"name":"echo"', 'the second curl, with that session id, lists the demo tools')

  const elsewhere = tempDir(t)
  const keys = await runCli(['keys', 'list', '--config', config], { cwd: elsewhere })
  t.equal(keys.code, 0, keys.stderr)
  t.match(keys.stdout, /demo@mcpgate\.local/, 'keys list from another directory shows the demo key')
  const users = await runCli(['users', 'list', '--config', config], { cwd: elsewhere })
  t.match(users.stdout, 'demo@mcpgate.local')
  t.notOk(existsSync(join(elsewhere, 'data')), 'nothing was created where the commands ran')
})
