// Issue 28: `mcpgate start --demo` says "set MCPGATE_ADMIN_TOKEN" only when no admin token is set,
// and a bad token from the environment is reported as the environment's, naming the variable (not
// as a mistake in the config file), without showing it.
import t, { type Test } from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from '../helpers/stores.ts'
import { freePort, runCli, startCli } from './run-cli.ts'

async function demoConfig (t: Test): Promise<string> {
  const dir = tempDir(t)
  const file = join(dir, 'demo.yaml')
  writeFileSync(file, [
    'gateway: { host: 127.0.0.1, port: 0 }',
    'admin: { host: 127.0.0.1, port: 0 }',
    'store: { type: sqlite, path: ./data/mcpgate.db }',
    'hashing: { memoryCost: 1024, timeCost: 1 }',
    'log: { level: warn }',
    'servers:',
    '  - id: demo',
    `    url: http://127.0.0.1:${await freePort()}/mcp`
  ].join('\n'))
  return file
}

const ready = (out: string) => out.includes('Admin API and web console')

t.test('with MCPGATE_ADMIN_TOKEN set, the banner does not ask to set it', async t => {
  const started = await startCli(t, ['start', '--demo', '--config', await demoConfig(t)], { env: { MCPGATE_ADMIN_TOKEN: 'banner-admin-token-0123456789' }, ready })
  const line = started.output().split('\n').find(l => l.includes('Admin API and web console')) ?? ''
  t.notMatch(line, 'set MCPGATE_ADMIN_TOKEN')
  t.match(line, /http:\/\/127\.0\.0\.1:\d+ \(sign in with the admin token you set/, 'the admin API\'s real address, and how to use it')
  t.notMatch(started.output(), 'banner-admin-token-0123456789', 'the token is not printed')
})

t.test('without a token, it says how to get one', async t => {
  const started = await startCli(t, ['start', '--demo', '--config', await demoConfig(t)], { ready })
  t.match(started.output(), 'no admin token is set; set MCPGATE_ADMIN_TOKEN (at least 16 characters) and restart')
})

t.test('a too-short MCPGATE_ADMIN_TOKEN is the environment\'s mistake, by name', async t => {
  const config = await demoConfig(t)
  for (const command of [['config', 'check'], ['start', '--demo']]) {
    const r = await runCli([...command, '--config', config], { env: { MCPGATE_ADMIN_TOKEN: 'tooshort' } })
    t.equal(r.code, 2, `${command.join(' ')}: exit 2`)
    t.match(r.stderr, 'admin.token, from the environment variable MCPGATE_ADMIN_TOKEN: expected string length greater or equal to 16')
    t.notMatch(r.stderr, 'tooshort', 'the value is not shown')
  }
})
