// The `mcpgate` command line: parses argv, loads the config once, dispatches to a command.
// Exit codes: 0 ok, 1 runtime failure, 2 bad config or bad usage.
import { ConfigError, type Env } from '../config/load.ts'
import { configPath, loadConfig, parseCommandArgs, UsageError, type Io } from './command.ts'

export type { Io } from './command.ts'

const defaultIo: Io = {
  out: line => process.stdout.write(line + '\n'),
  err: line => process.stderr.write(line + '\n')
}

const USAGE = `mcpgate — an API-key gateway in front of MCP servers

Usage:
  mcpgate start   [--config FILE] [--demo]   gateway + admin API in one process
  mcpgate gateway [--config FILE]            the gateway alone (scale this one)
  mcpgate admin   [--config FILE]            the admin API alone
  mcpgate config check [--config FILE]       validate a config file and exit
  mcpgate demo-server [--host H] [--port P]  run only the demo MCP server (an example upstream)
  mcpgate users create --email E --name N [--role user|admin] [--groups a,b]
  mcpgate users create --service --name N [--groups a,b] [--email E]   a service account
  mcpgate users list [--kind human|service]
  mcpgate users delete <id|email>
  mcpgate keys create --user <email|id> --name N --servers a,b|* [--expires <RFC3339|30d|12h|never>]
                      [--description D] [--scopes JSON] [--tools S:a,b*] [--prompts S:…] [--resources S:…]
                      [--requests-per-minute N] [--tool-calls-per-day N]
  mcpgate keys list [--user <email|id>]
  mcpgate keys delete <id>
  mcpgate keys rotate <id> [--overlap 0|30m|24h|7d]
  mcpgate oauth rotate-signing-key           OAuth mode: a new access token signing key in the store

Options:
  --config FILE   YAML config; default: $MCPGATE_CONFIG, else ./mcpgate.yaml, else the demo config
                  that "npm start" uses (config/demo.yaml of this installation, said on stderr)
  --help          show help for a command

Operator commands (users, keys, oauth) work directly on the configured store; only "users create" makes a
new SQLite store, the others need the one mcpgate runs with. Relative paths in a config file are
relative to that file's directory.
Environment: MCPGATE_CONFIG; MCPGATE_GATEWAY_HOST/PORT, MCPGATE_ADMIN_HOST/PORT, MCPGATE_ADMIN_TOKEN,
MCPGATE_STORE_TYPE, MCPGATE_STORE_URL, MCPGATE_STORE_PATH, MCPGATE_OAUTH_SIGNING_KEY_FILE override the file. Each of them, and any
\${VAR} in the file, may be given as NAME_FILE instead: a file holding the value (Docker secrets).
Exit codes: 0 done; 1 failed or refused (a user or key not found, an email taken, a server the
user cannot reach, the store unreachable); 2 bad usage (a flag or its value) or a bad config.`

export async function main (argv: string[], env: Env, io: Io = defaultIo): Promise<number> {
  const [command, ...rest] = argv
  try {
    if (command === undefined) {
      io.err(USAGE)
      return 2
    }
    if (command === '--help' || command === '-h' || command === 'help') {
      io.out(USAGE)
      return 0
    }
    switch (command) {
      case 'start':
      case 'gateway':
      case 'admin': {
        const { runServices } = await import('./serve.ts')
        return await runServices(command, rest, env, io)
      }
      case 'config': {
        const { values, positionals } = parseCommandArgs(rest, {})
        if (values.help || positionals[0] !== 'check') {
          const usage = 'Usage: mcpgate config check [--config FILE]'
          if (values.help) io.out(usage)
          else io.err(usage)
          return values.help ? 0 : 2
        }
        const path = configPath(values.config, env, io)
        const config = loadConfig(path, env)
        // The signing key file is read as the admin API reads it at start: a broken one fails here first.
        if (config.oauth.enabled && config.oauth.signingKeyFile !== undefined) {
          const { readSigningKeyFile } = await import('../admin-api/oauth/signing-keys.ts')
          readSigningKeyFile(config.oauth.signingKeyFile)
        }
        // Where the SQLite file is, resolved: the question "which store will the commands use?"
        // (a Redis URL may carry a password: not printed).
        const store = config.store.type === 'sqlite' ? `sqlite ${config.store.path}` : 'redis'
        io.out(`${path}: ok (${config.servers.length} servers, store ${store})`)
        return 0
      }
      case 'demo-server': {
        const { values } = parseCommandArgs(rest, { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '9300' } })
        if (values.help) {
          io.out('Usage: mcpgate demo-server [--host 127.0.0.1] [--port 9300]')
          return 0
        }
        if (!/^\d{1,5}$/.test(values.port) || Number(values.port) > 65535) throw new UsageError(`--port: "${values.port}" is not a port number (0-65535)`)
        const { startDemoServer } = await import('./demo-server.ts')
        const demo = await startDemoServer({ host: values.host, port: Number(values.port) })
        io.out(`demo MCP server listening on ${demo.url}`)
        const stop = () => { demo.close().then(() => process.exit(0), () => process.exit(1)) }
        process.once('SIGTERM', stop)
        process.once('SIGINT', stop)
        return await new Promise<number>(() => {})
      }
      case 'users':
      case 'keys': {
        const { runOperator } = await import('./operator.ts')
        return await runOperator(command, rest, env, io)
      }
      case 'oauth': {
        const { runOAuthCommand } = await import('./oauth.ts')
        return await runOAuthCommand(rest, env, io)
      }
      default:
        throw new UsageError(`unknown command "${command}"`)
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(`mcpgate: ${err.message}`)
      return 2
    }
    if (err instanceof UsageError) {
      io.err(`mcpgate: ${err.message}\nRun "mcpgate --help" for usage.`)
      return 2
    }
    const e = err as Error & { code?: string }
    io.err(`mcpgate: ${e.code !== undefined ? e.code + ': ' : ''}${e.message}`)
    return 1
  }
}
