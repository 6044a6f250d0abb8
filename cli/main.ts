// The `mcpgate` command line: parses argv, loads the config once, dispatches to a command.
// Exit codes: 0 ok, 1 runtime failure, 2 bad config or bad usage.
import { ConfigError, type Env } from '../config/load.ts'
import { loadConfig, parseCommandArgs, UsageError, type Io } from './command.ts'

export type { Io } from './command.ts'

const defaultIo: Io = {
  out: line => process.stdout.write(line + '\n'),
  err: line => process.stderr.write(line + '\n')
}

const USAGE = `mcpgate — an API-key gateway in front of MCP servers

Usage:
  mcpgate start   [--config FILE] [--demo]   gateway + admin API in one process
  mcpgate gateway [--config FILE]            the gateway alone
  mcpgate admin   [--config FILE]            the admin API alone
  mcpgate config check [--config FILE]       validate a config file and exit
  mcpgate demo-server [--host H] [--port P]  run only the demo MCP server (an example upstream)
  mcpgate users create --email E --name N [--role user|admin] [--groups a,b]
  mcpgate users list
  mcpgate users delete <id|email>
  mcpgate keys create --user <email|id> --name N --servers a,b|* [--expires <RFC3339|30d>] [--description D]
                      [--scopes JSON] [--tools S:a,b*] [--prompts S:…] [--resources S:…]   per-tool scopes
  mcpgate keys list [--user <email|id>]
  mcpgate keys delete <id>

Options:
  --config FILE   YAML config (default: mcpgate.yaml)
  --help          show help for a command

Operator commands (users, keys) work directly on the configured store.
Environment: MCPGATE_GATEWAY_PORT, MCPGATE_ADMIN_PORT, MCPGATE_STORE_TYPE, MCPGATE_STORE_URL,
MCPGATE_STORE_PATH, MCPGATE_ADMIN_TOKEN override the file.`

export async function main (argv: string[], env: Env, io: Io = defaultIo): Promise<number> {
  const [command, ...rest] = argv
  try {
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      io.out(USAGE)
      return command === undefined ? 2 : 0
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
          io.out('Usage: mcpgate config check [--config FILE]')
          return values.help ? 0 : 2
        }
        const config = loadConfig(values.config, env)
        io.out(`${values.config}: ok (${config.servers.length} servers, store ${config.store.type})`)
        return 0
      }
      case 'demo-server': {
        const { values } = parseCommandArgs(rest, { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '9300' } })
        if (values.help) {
          io.out('Usage: mcpgate demo-server [--host 127.0.0.1] [--port 9300]')
          return 0
        }
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
