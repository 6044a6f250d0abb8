// Builds the admin API for a test on a real store, with fast argon2, a captured log and a
// record of every response, so any test can assert that no hash and no second copy of a key
// ever left the server; and a whole stack (admin + gateway + MCP upstream) for end-to-end tests.
// Everything is closed in the calling test's teardown.
import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { pino } from 'pino'
import { adminLoggerOptions, buildAdmin } from '../../admin-api/app.ts'
import { createKeyService, type KeyService } from '../../admin-api/key-service.ts'
import { buildConfig } from '../../config/load.ts'
import type { Config } from '../../config/schema.ts'
import type { Clock } from '../../core/clock.ts'
import type { KeyStore } from '../../core/store/store.ts'
import { startGateway, type TestGateway } from './gateway.ts'
import { startMcpUpstream, type McpUpstream } from './mcp-upstream.ts'
import { startOidcIssuer, type OidcIssuer } from './oidc.ts'
import { redisStore, sqliteStore, testRedis } from './stores.ts'

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef'
export const ADMIN_GROUP = 'mcpgate-admins'

/** alpha: everyone; beta: group beta-team; gamma: admins only. */
export const TEST_SERVERS = [
  { id: 'alpha', url: 'http://127.0.0.1:9/mcp', access: 'everyone' },
  { id: 'beta', url: 'http://127.0.0.1:9/beta/mcp', access: { groups: ['beta-team'] }, headers: { Authorization: 'Bearer upstream-credential-beta' } },
  { id: 'gamma', url: 'http://127.0.0.1:9/gamma/mcp', access: { roles: ['admin'] } }
]

type Doc = Record<string, unknown>

/** A validated, frozen config with fast argon2 and the test servers; `overrides` merge per section. */
export function testConfig (overrides: { admin?: Doc, servers?: unknown[], gateway?: Doc, store?: Doc, log?: Doc } = {}, oidc?: OidcIssuer): Readonly<Config> {
  return buildConfig({
    admin: {
      token: ADMIN_TOKEN,
      ...(oidc === undefined ? {} : { oidc: { issuer: oidc.issuer, audience: oidc.audience, jwksUrl: oidc.jwksUrl, adminGroups: [ADMIN_GROUP] } }),
      ...overrides.admin
    },
    hashing: { memoryCost: 1024, timeCost: 1, parallelism: 1 },
    servers: overrides.servers ?? TEST_SERVERS,
    ...(overrides.gateway === undefined ? {} : { gateway: overrides.gateway }),
    ...(overrides.store === undefined ? {} : { store: overrides.store }),
    ...(overrides.log === undefined ? {} : { log: overrides.log })
  })
}

export interface Captured {
  method: string
  url: string
  statusCode: number
  headers: Record<string, unknown>
  body: string
}

export interface RequestOptions {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'PUT' | 'OPTIONS'
  url: string
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string
  body?: unknown
  headers?: Record<string, string>
}

export interface TestResponse {
  statusCode: number
  headers: Record<string, unknown>
  body: string
  json<T = any>(): T
}

export interface AdminHarness {
  app: FastifyInstance
  store: KeyStore
  config: Readonly<Config>
  /** The same service the routes use, for arranging state without HTTP. */
  service: KeyService
  /** Every log line the app wrote, parsed. */
  logs: Array<Record<string, any>>
  /** Every response the harness saw. */
  responses: Captured[]
  request(opts: RequestOptions): Promise<TestResponse>
  auditEvents(event?: string): Array<Record<string, any>>
}

export interface AdminHarnessOptions {
  store?: KeyStore
  config?: Readonly<Config>
  clock?: Clock
  jwksCooldownMs?: number
}

export async function startAdmin (t: Test, opts: AdminHarnessOptions = {}): Promise<AdminHarness> {
  const config = opts.config ?? testConfig()
  const store = opts.store ?? await sqliteStore(t, opts.clock === undefined ? {} : { clock: opts.clock })
  const logs: Array<Record<string, any>> = []
  const rawLines: string[] = []
  const logger = pino({ ...adminLoggerOptions(config), level: 'debug' }, {
    write (line: string) {
      rawLines.push(line)
      logs.push(JSON.parse(line))
    }
  })
  const app = await buildAdmin(config, {
    store,
    logger,
    ...(opts.clock === undefined ? {} : { clock: opts.clock }),
    ...(opts.jwksCooldownMs === undefined ? {} : { jwksCooldownMs: opts.jwksCooldownMs })
  })
  t.teardown(() => app.close())
  const responses: Captured[] = []
  const service = createKeyService({ store, config, ...(opts.clock === undefined ? {} : { clock: opts.clock }) })

  async function request (r: RequestOptions): Promise<TestResponse> {
    const headers: Record<string, string> = { ...r.headers }
    if (r.token !== undefined) headers.authorization = `Bearer ${r.token}`
    const res = await app.inject({
      method: r.method,
      url: r.url,
      headers,
      ...(r.body === undefined ? {} : { payload: r.body as string | object })
    })
    responses.push({ method: r.method, url: r.url, statusCode: res.statusCode, headers: { ...res.headers }, body: res.body })
    return { statusCode: res.statusCode, headers: { ...res.headers }, body: res.body, json: () => res.json() }
  }

  return {
    app,
    store,
    config,
    service,
    logs,
    responses,
    request,
    auditEvents: (event?: string) => logs.filter(l => l.audit === true && (event === undefined || l.event === event))
  }
}

/** Counts occurrences of `needle` across every captured response (bodies and headers). */
export function occurrences (responses: readonly Captured[], needle: string): number {
  let n = 0
  for (const r of responses) {
    const text = r.body + JSON.stringify(r.headers)
    let i = text.indexOf(needle)
    while (i >= 0) {
      n++
      i = text.indexOf(needle, i + needle.length)
    }
  }
  return n
}

/** No response and no log line may carry an argon2 hash. */
export function assertNoHashLeaked (t: Test, harness: AdminHarness): void {
  t.equal(occurrences(harness.responses, '$argon2'), 0, 'no response carries an argon2 hash')
  t.notOk(harness.logs.some(l => JSON.stringify(l).includes('$argon2')), 'no log line carries an argon2 hash')
}

export interface Stack {
  idp: OidcIssuer
  admin: AdminHarness
  gateway: TestGateway
  upstream: McpUpstream
  /** The store the gateway reads (a separate instance from the admin's on Redis). */
  gatewayStore: KeyStore
  /** Sends a JSON-RPC ping-like POST through the gateway; returns status and MCPGATE code. */
  send(serverId: string, key: string): Promise<{ status: number, code?: string }>
  /** Retries `send` until `until` holds or `withinMs` passes (Redis pub/sub is asynchronous). */
  sendUntil(serverId: string, key: string, until: (status: number) => boolean, withinMs?: number): Promise<{ status: number, code?: string }>
}

/**
 * Admin API + gateway + a real MCP upstream (servers alpha: everyone, beta: group beta-team) on
 * one store kind. SQLite: one store instance shared, as `mcpgate start` runs them. Redis: one
 * instance each, as separate admin and gateway processes would.
 */
export async function startStack (t: Test, kind: 'sqlite' | 'redis'): Promise<Stack> {
  const idp = await startOidcIssuer()
  t.teardown(() => idp.close())
  const upstream = await startMcpUpstream(t)
  const servers = [
    { id: 'alpha', url: upstream.mcpUrl, access: 'everyone' },
    { id: 'beta', url: upstream.mcpUrl, access: { groups: ['beta-team'] } }
  ]
  const config = testConfig({ servers }, idp)
  let adminStore: KeyStore
  let gatewayStore: KeyStore
  if (kind === 'sqlite') {
    adminStore = gatewayStore = await sqliteStore(t)
  } else {
    const redis = await testRedis(t)
    const prefix = `e2e-${Math.random().toString(36).slice(2, 8)}:`
    adminStore = await redisStore(t, redis, { prefix })
    gatewayStore = await redisStore(t, redis, { prefix })
  }
  const admin = await startAdmin(t, { store: adminStore, config })
  const gateway = await startGateway(t, { store: gatewayStore, config })
  // Invalidations reach the gateway only once its subscription is live.
  const deadline = Date.now() + 5000
  while (!gatewayStore.isSubscribed()) {
    if (Date.now() > deadline) throw new Error('gateway store never subscribed')
    await new Promise(resolve => setTimeout(resolve, 5))
  }

  async function send (serverId: string, key: string) {
    const res = await fetch(gateway.mcpUrl(serverId), {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'e2e', version: '1' } } })
    })
    const text = await res.text()
    let code: string | undefined
    try { code = (JSON.parse(text) as { error?: { data?: { code?: string } } }).error?.data?.code } catch { code = undefined }
    return { status: res.status, ...(code === undefined ? {} : { code }) }
  }

  async function sendUntil (serverId: string, key: string, until: (status: number) => boolean, withinMs = 100) {
    const start = Date.now()
    for (;;) {
      const r = await send(serverId, key)
      if (until(r.status) || Date.now() - start > withinMs) return r
    }
  }

  return { idp, admin, gateway, upstream, gatewayStore, send, sendUntil }
}
