// Builds a real gateway for a test: config through the real loader (fast argon2 unless told
// otherwise), a store from test/helpers/stores.ts, listening on 127.0.0.1:0, logs captured in
// memory, closed in teardown. Also: users and keys written straight to the store (the admin API's
// key service is another issue) and SDK clients connected through the gateway.
import { Writable } from 'node:stream'
import type { Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { buildConfig } from '../../config/load.ts'
import type { Config } from '../../config/schema.ts'
import { systemClock, type Clock } from '../../core/clock.ts'
import { hashSecret, type Argon2Params } from '../../core/hashing.ts'
import { generateKey, randomBase62 } from '../../core/key-format.ts'
import type { KeyStore, NewUser, User } from '../../core/store/store.ts'
import type { RateLimits } from '../../core/limits.ts'
import type { KeyScopes, PolicyLike } from '../../core/tool-scope.ts'
import { buildGateway, type GatewayDeps } from '../../gateway/app.ts'

export const FAST_ARGON2: Argon2Params = Object.freeze({ memoryCost: 1024, timeCost: 1, parallelism: 1 })

type DeepPartial<T> = { [K in keyof T]?: T[K] extends Array<infer U> ? U[] : T[K] extends object ? DeepPartial<T[K]> : T[K] }

export interface TestServer {
  id: string
  url: string
  headers?: Record<string, string>
  access?: 'everyone' | { users?: string[], groups?: string[], roles?: Array<'admin' | 'user'> }
  identityHeaders?: boolean
  timeouts?: { connectMs?: number, headersMs?: number }
  upstream?: { maxStreams?: number, maxRequests?: number }
  policies?: PolicyLike[]
  audit?: { arguments?: boolean, redact?: string[] }
}

/** A validated, frozen Config from a partial document, with fast hashing and quiet logs. */
export function testConfig (doc: { gateway?: DeepPartial<Config['gateway']>, servers?: TestServer[], hashing?: Partial<Argon2Params>, log?: Partial<Config['log']>, audit?: Partial<Config['audit']>, admin?: DeepPartial<Config['admin']>, telemetry?: DeepPartial<Config['telemetry']> } = {}): Readonly<Config> {
  return buildConfig({
    gateway: { port: 0, ...doc.gateway },
    hashing: { ...FAST_ARGON2, ...doc.hashing },
    log: { level: 'info', ...doc.log },
    ...(doc.audit === undefined ? {} : { audit: doc.audit }),
    ...(doc.admin === undefined ? {} : { admin: doc.admin }),
    ...(doc.telemetry === undefined ? {} : { telemetry: doc.telemetry }),
    servers: doc.servers ?? []
  })
}

/** Collects every log line written by the gateway. */
export class LogCapture extends Writable {
  readonly lines: string[] = []
  override _write (chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.lines.push(chunk.toString('utf8'))
    done()
  }

  text (): string { return this.lines.join('') }
}

export interface TestGateway {
  app: FastifyInstance
  /** http://127.0.0.1:PORT */
  url: string
  config: Readonly<Config>
  logs: LogCapture
  /** Absolute URL of /mcp-connect/<id>[/rest] */
  mcpUrl(serverId: string, rest?: string): string
}

export async function startGateway (t: Test, opts: {
  store: KeyStore
  config?: Readonly<Config>
  clock?: Clock
  logs?: LogCapture
  /** These logger options (with their own stream) instead of capturing into `logs`. */
  logger?: GatewayDeps['logger']
  onRequestEnd?: GatewayDeps['onRequestEnd']
}): Promise<TestGateway> {
  const config = opts.config ?? testConfig()
  const logs = opts.logs ?? new LogCapture()
  const app = await buildGateway(config, { store: opts.store, clock: opts.clock, logger: opts.logger ?? { stream: logs }, onRequestEnd: opts.onRequestEnd })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const url = `http://127.0.0.1:${port}`
  return {
    app,
    url,
    config,
    logs,
    mcpUrl: (serverId, rest) => `${url}/mcp-connect/${serverId}${rest === undefined ? '' : `/${rest}`}`
  }
}

export async function createTestUser (store: KeyStore, input: Partial<NewUser> = {}): Promise<User> {
  const tag = randomBase62(8).toLowerCase()
  return store.createUser({ email: `user-${tag}@example.com`, name: `User ${tag}`, role: 'user', groups: [], ...input })
}

export interface TestKey {
  /** The full key, as a client would send it. */
  key: string
  keyId: string
  secret: string
  user: User
}

/** Writes a key record directly (generateKey + hashSecret + store.createKey). */
export async function createTestKey (store: KeyStore, opts: {
  user?: User
  mcpServerIds?: string[]
  scopes?: KeyScopes
  limits?: RateLimits
  expiresAt?: number | null
  name?: string
  clock?: Clock
  hashing?: Argon2Params
} = {}): Promise<TestKey> {
  const user = opts.user ?? await createTestUser(store)
  const gen = generateKey(user.id)
  await store.createKey({
    id: gen.keyId,
    userId: user.id,
    name: opts.name ?? 'test key',
    description: '',
    mcpServerIds: opts.mcpServerIds ?? ['*'],
    ...(opts.scopes === undefined ? {} : { scopes: opts.scopes }),
    ...(opts.limits === undefined ? {} : { limits: opts.limits }),
    createdAt: (opts.clock ?? systemClock).now(),
    expiresAt: opts.expiresAt ?? null,
    lastUsedAt: null,
    secretHash: await hashSecret(gen.secret, opts.hashing ?? FAST_ARGON2)
  })
  return { key: gen.key, keyId: gen.keyId, secret: gen.secret, user }
}

/** An SDK client over Streamable HTTP through the gateway, closed in teardown. */
export async function connectStreamable (t: Test, url: string, key: string): Promise<{ client: Client, transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name: 'mcpgate-test-client', version: '1.0.0' })
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${key}` } } })
  await client.connect(transport)
  t.teardown(() => client.close())
  return { client, transport }
}

/** An SDK client over legacy HTTP+SSE through the gateway (key as X-API-Key), closed in teardown. */
export async function connectSse (t: Test, url: string, key: string): Promise<{ client: Client, transport: SSEClientTransport }> {
  const client = new Client({ name: 'mcpgate-test-client', version: '1.0.0' })
  const transport = new SSEClientTransport(new URL(url), { requestInit: { headers: { 'x-api-key': key } } })
  await client.connect(transport)
  t.teardown(() => client.close())
  return { client, transport }
}
