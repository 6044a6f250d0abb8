// Picks the KeyStore implementation the config names; the only place that knows both exist.
import type { Clock } from '../clock.ts'
import type { Config } from '../../config/schema.ts'
import { RedisStore } from './redis.ts'
import { SqliteStore } from './sqlite.ts'
import type { KeyStore } from './store.ts'

export function openStore (storeConfig: Config['store'], opts: { clock?: Clock } = {}): KeyStore {
  if (storeConfig.type === 'sqlite') {
    return new SqliteStore({ path: storeConfig.path, pollMs: storeConfig.pollMs, cacheKiB: storeConfig.cacheKiB, clock: opts.clock })
  }
  if (storeConfig.url === undefined || storeConfig.url === '') {
    throw new TypeError('store.url is required when store.type is redis (or set MCPGATE_STORE_URL)')
  }
  return new RedisStore({
    url: storeConfig.url,
    prefix: storeConfig.prefix,
    commandTimeoutMs: storeConfig.commandTimeoutMs,
    connectTimeoutMs: storeConfig.connectTimeoutMs,
    clock: opts.clock
  })
}
