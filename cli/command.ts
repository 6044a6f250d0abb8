// What every command shares: where it writes, how it reads its arguments and the config, and the
// usage error that main.ts turns into exit code 2. Its own module so that main.ts can load the
// commands (serve.ts, operator.ts) and they need nothing from main.ts: no import cycle.
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { loadConfigFile, type Env } from '../config/load.ts'
import type { Config } from '../config/schema.ts'

export interface Io {
  out: (line: string) => void
  err: (line: string) => void
}

export class UsageError extends Error {}

const commonOptions = {
  config: { type: 'string', default: 'mcpgate.yaml' },
  help: { type: 'boolean', default: false }
} as const satisfies ParseArgsConfig['options']

export function parseCommandArgs<O extends NonNullable<ParseArgsConfig['options']>> (args: string[], options: O) {
  try {
    return parseArgs({ args, options: { ...commonOptions, ...options }, allowPositionals: true, strict: true })
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}

export function loadConfig (path: string, env: Env): Readonly<Config> {
  return loadConfigFile(path, env)
}
