// RedisStore: placeholder until the implementation lands (same constructor options).
import type { Clock } from '../clock.ts'
import type { KeyStore } from './store.ts'

export interface RedisStoreOptions {
  url: string
  prefix?: string
  commandTimeoutMs?: number
  connectTimeoutMs?: number
  clock?: Clock
}

class Placeholder {
  constructor (options: RedisStoreOptions) {
    throw new Error(`RedisStore (${options.url}) is not implemented yet`)
  }
}

export const RedisStore = Placeholder as unknown as new (options: RedisStoreOptions) => KeyStore
