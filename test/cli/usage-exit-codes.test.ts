// Issue 28: what the help says holds — a bad flag or flag value is a usage error, exit 2, naming
// the flag (not the API's field: `--expires`, not `expiresAt`, with the forms it takes); a refusal
// of the store or the key service (a user not found) stays exit 1.
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { main } from '../../cli/main.ts'
import { tempDir } from '../helpers/stores.ts'
import { runCli } from './run-cli.ts'

/** In-process, as bin/mcpgate.js runs it (its exit code is what main returns): fast for many cases. */
async function inProcess (args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  const out: string[] = []
  const err: string[] = []
  const code = await main(args, { PATH: process.env.PATH ?? '' }, { out: l => out.push(l), err: l => err.push(l) })
  return { code, stdout: out.join('\n'), stderr: err.join('\n') }
}

t.test('usage errors exit 2 and name the flag; refusals exit 1', async t => {
  const dir = tempDir(t)
  const config = join(dir, 'mcpgate.yaml')
  writeFileSync(config, 'hashing: { memoryCost: 1024, timeCost: 1 }\nservers:\n  - id: a\n    url: http://127.0.0.1:9/mcp\n')
  const run = (...args: string[]) => inProcess([...args, '--config', config])
  t.equal((await run('users', 'create', '--email', 'ada@example.com', '--name', 'Ada')).code, 0)
  const key = ['keys', 'create', '--user', 'ada@example.com', '--name', 'k', '--servers', 'a']

  const cases: Array<[string[], RegExp]> = [
    [[...key, '--expires', 'tomorrow'], /^mcpgate: --expires: "tomorrow" is not an RFC 3339 date-time with a time zone \(2027-06-30T00:00:00Z\), a time from now \(30d, 12h, 45m\) or never$/m],
    [[...key, '--expires', '2020-01-01T00:00:00Z'], /^mcpgate: --expires: must be in the future \(give an RFC 3339 .* \(30d, 12h, 45m\) or never\)$/m],
    [[...key, '--requests-per-minute', '0'], /^mcpgate: --requests-per-minute: must be an integer/m],
    [['users', 'create', '--email', 'not-an-email', '--name', 'X'], /^mcpgate: --email: /m],
    [['users', 'create', '--email', 'b@example.com', '--name', 'B', '--role', 'root'], /^mcpgate: users create: --role must be user or admin/m],
    [['users'], /^mcpgate: users: which action\?/m],
    [['keys', 'frob'], /^mcpgate: unknown action "keys frob"/m],
    [['demo-server', '--port', 'abc'], /^mcpgate: --port: "abc" is not a port number/m],
    [['start', '--bogus'], /^mcpgate: Unknown option '--bogus'/m]
  ]
  for (const [args, message] of cases) {
    const r = await run(...args)
    t.equal(r.code, 2, `${args.join(' ')}: exit 2`)
    t.match(r.stderr, message, `${args.join(' ')}: says which flag`)
    t.notMatch(r.stderr, /expiresAt|MCPGATE_VALIDATION_FAILED/, 'in the CLI\'s words, not the API\'s')
  }
  // The real command, too: its exit code and streams.
  const real = await runCli([...key, '--expires', 'tomorrow', '--config', config], { cwd: dir })
  t.equal(real.code, 2, 'bin/mcpgate.js exits 2')
  t.match(real.stderr, '--expires: "tomorrow" is not')
  const bare = await runCli([], { cwd: dir })
  t.equal(bare.code, 2, 'no command: exit 2')
  t.match(bare.stderr, 'Usage:', 'with the usage on stderr')

  const refused = await run('keys', 'list', '--user', 'nobody@example.com')
  t.equal(refused.code, 1, 'a user not found is a refusal: exit 1')
  t.match(refused.stderr, 'MCPGATE_USER_NOT_FOUND')

  const help = await runCli(['--help'])
  t.equal(help.code, 0)
  t.match(help.stdout, /Exit codes: 0 done; 1 failed or refused .*; 2 bad usage/s, 'the help says which exit code means what')
})
