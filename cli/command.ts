// What every command shares: where it writes, how it reads its arguments and finds and loads the
// config, and the usage error that main.ts turns into exit code 2. Its own module so that main.ts
// can load the commands (serve.ts, operator.ts) and they need nothing from main.ts: no import cycle.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { loadConfigFile, type Env } from '../config/load.ts'
import type { Config } from '../config/schema.ts'

export interface Io {
  out: (line: string) => void
  err: (line: string) => void
}

export class UsageError extends Error {}

/** The config file looked for in the working directory when neither --config nor MCPGATE_CONFIG says. */
export const DEFAULT_CONFIG = 'mcpgate.yaml'

/**
 * config/demo.yaml of this installation — what `npm start` runs — from this module's URL:
 * cli/command.ts run from the sources, or dist/cli/command.js once compiled, one level deeper.
 */
export function demoConfigFor (moduleUrl: string): string {
  let root = new URL('../', moduleUrl)
  if (root.pathname.endsWith('/dist/')) root = new URL('../', root)
  return fileURLToPath(new URL('config/demo.yaml', root))
}

export const DEMO_CONFIG = demoConfigFor(import.meta.url)

const commonOptions = {
  config: { type: 'string' },
  help: { type: 'boolean', default: false }
} as const satisfies ParseArgsConfig['options']

export function parseCommandArgs<O extends NonNullable<ParseArgsConfig['options']>> (args: string[], options: O) {
  try {
    return parseArgs({ args, options: { ...commonOptions, ...options }, allowPositionals: true, strict: true })
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}

/**
 * The config file a command uses: --config, else MCPGATE_CONFIG (the Docker image sets it), else
 * ./mcpgate.yaml, else the demo config `npm start` uses — so that in a checkout, `npx mcpgate keys
 * list` after `npm start` sees the same store. The last choice is said on stderr, since nobody
 * asked for it.
 */
export function configPath (flag: string | undefined, env: Env, io: Io): string {
  if (flag !== undefined) return flag
  const fromEnv = env.MCPGATE_CONFIG
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv
  if (existsSync(DEFAULT_CONFIG)) return DEFAULT_CONFIG
  io.err(`mcpgate: using ${DEMO_CONFIG}, the demo config "npm start" uses (no --config, no MCPGATE_CONFIG, no ./${DEFAULT_CONFIG})`)
  return DEMO_CONFIG
}

export function loadConfig (path: string, env: Env): Readonly<Config> {
  return loadConfigFile(path, env)
}
