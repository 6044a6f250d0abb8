// `mcpgate oauth rotate-signing-key`: a new signing key for OAuth mode's access tokens, written
// directly to the configured store (as `keys` and `users` commands work on it). The admin API
// replicas sign with it within 30 s (admin-api/oauth/signing-keys.ts); the previous key keeps
// verifying for the access token lifetime + 60 s, so no token issued before is refused early.
import { existsSync } from 'node:fs'
import { configPath, loadConfig, parseCommandArgs, UsageError, type Io } from './command.ts'
import type { Env } from '../config/load.ts'
import { systemClock, type Clock } from '../core/clock.ts'
import { retentionMs, rotateSigningKey } from '../core/oauth.ts'
import { openStore } from '../core/store/open.ts'

const USAGE = `Usage:
  mcpgate oauth rotate-signing-key [--config FILE]
                      (a new key signs OAuth access tokens from now on; the previous one keeps
                      verifying for oauth.accessTokenTtlSeconds + 60 s. Not with oauth.signingKeyFile:
                      put the new key first in that file, the old one after it, then SIGHUP)`

export async function runOAuthCommand (args: string[], env: Env, io: Io, clock: Clock = systemClock): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {})
  if (values.help) {
    io.out(USAGE)
    return 0
  }
  const [action] = positionals
  if (action === undefined) throw new UsageError(`oauth: which action?\n${USAGE}`)
  if (action !== 'rotate-signing-key' || positionals.length > 1) throw new UsageError(`unknown action "oauth ${positionals.join(' ')}"\n${USAGE}`)
  const path = configPath(values.config, env, io)
  const config = loadConfig(path, env)
  if (config.oauth.signingKeyFile !== undefined) {
    throw new Error(`oauth.signingKeyFile is set (${config.oauth.signingKeyFile}): the signing key is that file's, not the store's. ` +
      'Rotate it there: put the new key first in the file and the old one after it, then send SIGHUP to (or restart) the admin API; ' +
      `remove the old key after oauth.accessTokenTtlSeconds + 60 s (${config.oauth.accessTokenTtlSeconds + 60} s).`)
  }
  // As for `keys`: a store file that does not exist is a wrong --config, not a store to start.
  if (config.store.type === 'sqlite' && !existsSync(config.store.path)) {
    throw new Error(`no SQLite store at ${config.store.path} (store.path of ${path}); "oauth rotate-signing-key" creates none. ` +
      'Is this the config mcpgate runs with?')
  }
  const store = openStore(config.store)
  try {
    const now = clock.now()
    const rotation = await rotateSigningKey(store, now, retentionMs(config.oauth.accessTokenTtlSeconds))
    io.out(`rotated the OAuth signing key: ${rotation.signing} signs from now on (admin API replicas switch within 30 s)`)
    for (const { kid, until } of rotation.retained) io.out(`  ${kid} verifies until ${new Date(until).toISOString()}`)
    for (const kid of rotation.dropped) io.out(`  ${kid} removed (past its retention)`)
    return 0
  } finally {
    await store.close()
  }
}
