// The one configuration schema: every field, its default and its doc string live here.
// config/load.ts validates a file against it once at boot and freezes the result;
// scripts/config-reference.ts renders it into README's configuration reference.
import { Type, type Static } from '@sinclair/typebox'

const Port = Type.Integer({ minimum: 0, maximum: 65535 })
const Ms = (def: number, description: string) => Type.Integer({ minimum: 0, default: def, description })
/** A duration that cannot be zero (a timeout or a poll interval the store needs). */
const PositiveMs = (def: number, description: string) => Type.Integer({ minimum: 1, default: def, description })

export const ServerId = Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,63}$', description: 'URL slug: /mcp-connect/<id>' })

export const AccessRule = Type.Union([
  Type.Literal('everyone'),
  Type.Object({
    users: Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'user emails or ids' }),
    groups: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
    roles: Type.Array(Type.Union([Type.Literal('admin'), Type.Literal('user')]), { default: [] })
  }, { additionalProperties: false })
], { default: 'everyone', description: '`everyone`, or lists of users (email or id), groups and roles allowed' })

export const ServerSchema = Type.Object({
  id: ServerId,
  name: Type.String({ maxLength: 200, default: '', description: 'display name; defaults to the id' }),
  description: Type.String({ maxLength: 2000, default: '' }),
  url: Type.String({ minLength: 1, description: 'upstream MCP endpoint (Streamable HTTP, or legacy HTTP+SSE `/sse`)' }),
  headers: Type.Record(Type.String(), Type.String(), { default: {}, description: 'headers added to every upstream request ($' + '{ENV} interpolated); names are RFC 9110 tokens, values visible characters, spaces and tabs (a control character, e.g. a trailing newline from a variable, is refused at load)' }),
  access: AccessRule,
  identityHeaders: Type.Boolean({ default: false, description: 'send x-mcpgate-user-id, x-mcpgate-user-email and x-mcpgate-key-id upstream' }),
  timeouts: Type.Object({
    connectMs: Ms(5000, 'upstream connect timeout (→ 503)'),
    headersMs: Ms(300000, 'time allowed for upstream response headers (→ 504); long tool calls answer late')
  }, { default: {}, additionalProperties: false }),
  audit: Type.Object({
    arguments: Type.Boolean({ default: false, description: 'record tools/call arguments in the audit events of this server (redacted, at most 4 KiB)' }),
    redact: Type.Array(Type.String({ minLength: 1 }), { default: ['password', 'passwd', 'secret', 'token', 'authorization', 'api_key', 'apikey', 'cookie', 'credential'], description: 'argument names containing any of these (case-insensitive) are recorded as "[redacted]"' })
  }, { default: {}, additionalProperties: false }),
  policies: Type.Optional(Type.Array(Type.Object({
    users: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'user emails or ids this policy is for' })),
    groups: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    roles: Type.Optional(Type.Array(Type.Union([Type.Literal('admin'), Type.Literal('user')]))),
    tools: Type.Optional(Type.Array(Type.String(), { description: 'tool names or * globs; absent = all, [] = none' })),
    resources: Type.Optional(Type.Array(Type.String(), { description: 'resource URIs or * globs' })),
    prompts: Type.Optional(Type.Array(Type.String(), { description: 'prompt names or * globs' }))
  }, { additionalProperties: false }), { description: 'what the tools, resources and prompts of this server its users may use: the union of the policies that match the user (a policy without users, groups and roles matches everyone; one that matches nobody leaves a user none). Absent: everything. A key\'s own scopes narrow it further' })),
  upstream: Type.Optional(Type.Object({
    maxStreams: Type.Optional(Type.Integer({ minimum: 1, description: 'this server\'s gateway.upstream.maxStreams' })),
    maxRequests: Type.Optional(Type.Integer({ minimum: 1, description: 'this server\'s gateway.upstream.maxRequests' }))
  }, { additionalProperties: false, description: 'per-server budgets of open exchanges (default: gateway.upstream)' }))
}, { additionalProperties: false })

export const ConfigSchema = Type.Object({
  gateway: Type.Object({
    host: Type.String({ default: '127.0.0.1' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080, description: 'env MCPGATE_GATEWAY_PORT' }),
    publicUrl: Type.Optional(Type.String({ description: 'external base URL printed in client snippets (default http://host:port)' })),
    trustProxy: Type.Boolean({ default: false, description: 'trust X-Forwarded-For for the client IP (rate limits)' }),
    allowedOrigins: Type.Array(Type.String(), { default: [], description: 'browser Origins allowed (CORS and DNS-rebinding check); requests without Origin are always allowed' }),
    metricsPort: Type.Optional(Type.Union([Port, Type.Null()], { description: 'serve /metrics on a separate port (never public); omit to serve on the gateway port' })),
    cache: Type.Object({
      maxKeys: Type.Integer({ minimum: 1, default: 100000, description: 'verified keys kept in memory' }),
      maxUsers: Type.Integer({ minimum: 1, default: 100000 }),
      revalidateMs: Ms(30000, 'a cached key older than this is revalidated with one cheap store read (no argon2)'),
      graceMs: Ms(60000, 'store unreachable: cached keys keep working this long after the last healthy store contact')
    }, { default: {}, additionalProperties: false }),
    guards: Type.Object({
      maxConcurrentVerifications: Type.Integer({ minimum: 1, default: 2, description: 'argon2 verifications in flight (each takes a core for ~25 ms); overflow → 503' }),
      maxVerificationsPerSecond: Type.Integer({ minimum: 1, default: 20, description: 'argon2 verifications per second of keys not yet proven (first use), all clients together; overflow → 503 with Retry-After. Bounds the CPU a wrong-secret flood from many addresses can take (20/s ≈ half a core)' }),
      failuresPerKeyId: Type.Integer({ minimum: 1, default: 10, description: 'failed verifications of one keyId from one client IP per window before that IP gets 429 on that keyId' }),
      failuresPerKeyIdAllIps: Type.Integer({ minimum: 1, default: 100, description: 'failed verifications of one keyId from all IPs per window; past it the keyId is verified at most once a second (never locked: its owner keeps getting in)' }),
      failuresPerIp: Type.Integer({ minimum: 1, default: 30, description: 'failed authentications per client IP per window before 429' }),
      failureWindowMs: Ms(60000, 'window of the failure budgets'),
      negativeCacheSize: Type.Integer({ minimum: 1, default: 10000, description: 'remembered failed (keyId, digest) pairs' })
    }, { default: {}, additionalProperties: false }),
    upstream: Type.Object({
      maxStreams: Type.Integer({ minimum: 1, default: 10000, description: 'open GET streams (Streamable HTTP standalone streams, legacy SSE) per server on one replica; one more → 503 MCPGATE_UPSTREAM_BUSY with Retry-After' }),
      maxRequests: Type.Integer({ minimum: 1, default: 1000, description: 'POST/DELETE requests in flight per server on one replica (a streamed answer counts until it ends); one more → 503 MCPGATE_UPSTREAM_BUSY. Streams never take these' }),
      keepAliveTimeoutMs: Ms(60000, 'idle upstream socket lifetime'),
      connections: Type.Optional(Type.Integer({ minimum: 1, description: 'deprecated, ignored: upstream sockets are opened as needed and bounded by maxStreams + maxRequests' })),
      pipelining: Type.Optional(Type.Integer({ minimum: 1, description: 'deprecated, ignored: never pipelined (a request must not wait behind a stream)' }))
    }, { default: {}, additionalProperties: false }),
    limits: Type.Object({
      perKey: Type.Object({
        requestsPerMinute: Type.Optional(Type.Integer({ minimum: 1, description: 'requests a minute for a key without its own limit' })),
        toolCallsPerDay: Type.Optional(Type.Integer({ minimum: 1, description: 'tool calls a UTC day for a key without its own quota' }))
      }, { default: {}, additionalProperties: false, description: 'defaults for keys without their own `limits` (absent: none)' }),
      perUser: Type.Object({
        requestsPerMinute: Type.Optional(Type.Integer({ minimum: 1, description: 'requests a minute across all of a user\'s keys' })),
        toolCallsPerDay: Type.Optional(Type.Integer({ minimum: 1, description: 'tool calls a UTC day across all of a user\'s keys' }))
      }, { default: {}, additionalProperties: false, description: 'totals per user, so more keys do not multiply an allowance (absent: none)' })
    }, { default: {}, additionalProperties: false }),
    sessions: Type.Object({
      idleTtlMs: PositiveMs(86400000, 'an MCP session\'s binding to its key is forgotten after this long unused (the client then starts a new session)'),
      maxCached: Type.Integer({ minimum: 1, default: 100000, description: 'session bindings kept in memory per replica (the store has them all)' })
    }, { default: {}, additionalProperties: false }),
    lastUsedFlushMs: Ms(10000, 'how often lastUsedAt is written to the store (and at shutdown)'),
    shutdownGraceMs: Ms(10000, 'SIGTERM: time in-flight requests get before the process exits'),
    heapGrowingPercent: Type.Integer({ minimum: 0, maximum: 1000, default: 50, description: 'V8 heap growth after each full GC, in % of the live heap (set by the gateway at start): 50 keeps RSS near 1.5× what is live; 0 = V8\'s own choice (up to 4×, ~1.7× the RSS with 100k cached keys)' }),
    pretenuring: Type.Boolean({ default: false, description: 'V8 allocation-site pretenuring (set by the gateway at start); off: under load V8 would allocate request objects straight in the old generation, ~30 % more CPU per request and 6× longer young-GC pauses (bench/README.md)' })
  }, { default: {}, additionalProperties: false }),
  admin: Type.Object({
    host: Type.String({ default: '127.0.0.1' }),
    publicUrl: Type.Optional(Type.String({ description: 'the console\'s external URL: the gateway\'s 401/404 answers tell clients to create a key there' })),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 8081, description: 'env MCPGATE_ADMIN_PORT' }),
    token: Type.Optional(Type.String({ minLength: 16, description: 'bootstrap admin token; prefer env MCPGATE_ADMIN_TOKEN' })),
    maxKeysPerUser: Type.Integer({ minimum: 1, default: 100 }),
    trustProxy: Type.Boolean({ default: false, description: 'trust X-Forwarded-For for the client IP (failure budget, audit log); behind a reverse proxy without it, every caller shares the proxy\'s budget' }),
    authFailuresPerIp: Type.Integer({ minimum: 1, default: 20, description: 'wrong admin tokens, rejected JWTs and (OAuth mode) wrong keys sent as a client_secret per client IP per window before 429 (requests without credentials, 403 and 503 are not counted)' }),
    authFailureWindowMs: Ms(60000, 'window of the admin authentication failure budget (fixed: a later success does not reset it)'),
    rotationOverlapSeconds: Type.Integer({ minimum: 0, maximum: 31536000, default: 86400, description: 'a rotated key\'s old secret keeps working this long unless the rotation says otherwise (never past the key\'s expiry; 0: refused at once)' }),
    maxKeyLifetimeDays: Type.Optional(Type.Integer({ minimum: 1, description: 'reject keys that expire later than this (and keys that never expire)' })),
    catalog: Type.Object({
      cacheMs: Ms(30000, 'GET /api/mcp-servers/:id/catalog: how long a server\'s listed tools, prompts and resources are kept in memory (0 = list on every request)'),
      timeoutMs: PositiveMs(5000, 'time allowed to connect to an upstream and list it as an MCP client (→ 502 MCPGATE_CATALOG_UNAVAILABLE)')
    }, { default: {}, additionalProperties: false }),
    oidc: Type.Optional(Type.Object({
      issuer: Type.String({ minLength: 1 }),
      audience: Type.String({ minLength: 1 }),
      jwksUrl: Type.Optional(Type.String({ description: 'default: from the issuer discovery document' })),
      clientId: Type.Optional(Type.String({ description: 'public client id used by the web console (authorization code + PKCE)' })),
      algorithms: Type.Array(Type.String(), { default: ['RS256', 'ES256', 'PS256', 'EdDSA'] }),
      claims: Type.Object({
        email: Type.String({ default: 'email' }),
        name: Type.String({ default: 'name' }),
        groups: Type.String({ default: 'groups' }),
        emailVerified: Type.String({ default: 'email_verified', description: 'a sign-in not linked yet links to (or creates) the account of its email only when this claim is true; e.g. xms_edov on Microsoft Entra ID' })
      }, { default: {}, additionalProperties: false }),
      adminGroups: Type.Array(Type.String(), { default: [] })
    }, { additionalProperties: false }))
  }, { default: {}, additionalProperties: false }),
  oauth: Type.Object({
    enabled: Type.Boolean({ default: false, description: 'OAuth mode: mcpgate is also an OAuth 2.1 authorization server (in the admin API process) for clients that cannot send an API key (ChatGPT, Microsoft 365 Copilot, claude.ai). Off: the gateway answers every OAuth discovery path with a JSON 404 that says to send a key' }),
    issuer: Type.Optional(Type.String({ description: 'the authorization server\'s issuer URL (default admin.publicUrl, else http://admin host:port); its endpoints are under /oauth/ there' })),
    accessTokenTtlSeconds: Type.Integer({ minimum: 30, maximum: 86400, default: 600, description: 'lifetime of an access token (a JWT bound to one server endpoint); a revoked grant is refused at once whatever is left of it' }),
    refreshTokenTtlDays: Type.Integer({ minimum: 1, maximum: 365, default: 30, description: 'lifetime of a refresh token; each use rotates it, and a used one presented again revokes the grant' }),
    grantTtlDays: Type.Integer({ minimum: 1, maximum: 3650, default: 90, description: 'a grant (listed with the API keys as "OAuth · <client>") expires this long after consent; the client then asks the user again' }),
    dynamicRegistration: Type.Boolean({ default: true, description: 'open dynamic client registration (RFC 7591) at /oauth/register, which Cursor, Codex and Copilot still need' }),
    clientIdMetadataDocuments: Type.Boolean({ default: true, description: 'accept an https: URL as client_id and fetch its metadata document (https only, never a loopback, private or link-local address, 5 KiB, 2.5 s)' }),
    registrationsPerIpPerHour: Type.Integer({ minimum: 1, default: 60, description: 'dynamic client registrations (POST /oauth/register) one client IP may make per hour on an admin replica before 429 with Retry-After; each one is a client record in the store' }),
    keyVerificationsPerSecond: Type.Integer({ minimum: 1, default: 10, description: 'argon2 verifications per second of API keys sent as a client_secret (client_credentials) not proven before, all clients together, per admin replica (on low-priority threads); overflow → 503 temporarily_unavailable with Retry-After. A key proved once is known by its digest' }),
    signingKeyFile: Type.Optional(Type.String({ minLength: 1, description: 'the access tokens\' signing key, kept out of the store: a PEM file (PKCS#8 EC P-256 private key; more keys after it verify only) or a JSON private JWK or JWKS whose first key signs; relative: to the config file\'s directory (env MCPGATE_OAUTH_SIGNING_KEY_FILE: from the working directory). Absent: a key generated once and kept in the store (`mcpgate oauth rotate-signing-key` rotates it)' }))
  }, { default: {}, additionalProperties: false }),
  store: Type.Object({
    type: Type.Union([Type.Literal('sqlite'), Type.Literal('redis')], { default: 'sqlite' }),
    path: Type.String({ default: './data/mcpgate.db', description: 'sqlite file; a relative path is taken from the config file\'s directory (env MCPGATE_STORE_PATH: from the working directory)' }),
    url: Type.Optional(Type.String({ description: 'redis://, rediss://, a unix socket path, or redis+sentinel://host:port,…/<primary name> (env MCPGATE_STORE_URL)' })),
    prefix: Type.String({ default: 'mcpgate:', description: 'redis key prefix' }),
    commandTimeoutMs: PositiveMs(250, 'redis command timeout on the auth path'),
    connectTimeoutMs: PositiveMs(1000, 'redis connect timeout'),
    pollMs: PositiveMs(25, 'sqlite: how often the invalidation log is polled (PRAGMA data_version makes it nearly free)'),
    cacheKiB: Type.Integer({ minimum: 0, default: 2048, description: 'sqlite: page cache of the connection, KiB (auth reads are single rows; the OS caches the file too)' })
  }, { default: {}, additionalProperties: false }),
  hashing: Type.Object({
    memoryCost: Type.Integer({ minimum: 1024, default: 19456, description: 'argon2id memory (KiB)' }),
    timeCost: Type.Integer({ minimum: 1, default: 2 }),
    parallelism: Type.Integer({ minimum: 1, default: 1 })
  }, { default: {}, additionalProperties: false }),
  audit: Type.Object({
    enabled: Type.Boolean({ default: true, description: 'one event per MCP request (per message of a batch) and per refusal, kept in the store; off: none, and unscoped requests are relayed without reading their body' }),
    retentionDays: Type.Integer({ minimum: 1, default: 30, description: 'events older than this are dropped' }),
    maxEvents: Type.Integer({ minimum: 1000, default: 1000000, description: 'at most this many events are kept in the store (the newest)' }),
    flushMs: PositiveMs(1000, 'events are written to the store in batches this often'),
    bufferEvents: Type.Integer({ minimum: 100, default: 20000, description: 'events held in memory while the store is unreachable; more are dropped (counted in mcpgate_audit_events_total{result="dropped"}, logged once)' }),
    file: Type.Optional(Type.String({ minLength: 1, description: 'also write every event as a JSON line to this file (relative: to the config file\'s directory), or to standard output with "stdout" (for log shippers)' }))
  }, { default: {}, additionalProperties: false }),
  telemetry: Type.Object({
    otlp: Type.Object({
      endpoint: Type.Optional(Type.String({ minLength: 1, description: 'OTLP/HTTP traces endpoint (e.g. http://collector:4318/v1/traces); absent: no tracing, and nothing of it runs per request' })),
      headers: Type.Record(Type.String(), Type.String(), { default: {}, description: 'headers sent with every export (e.g. an API key of the collector)' })
    }, { default: {}, additionalProperties: false }),
    serviceName: Type.String({ minLength: 1, default: 'mcpgate', description: 'service.name of the spans' }),
    sampleRatio: Type.Number({ minimum: 0, maximum: 1, default: 1, description: 'share of new traces sampled (a client\'s sampled traceparent is followed)' }),
    flushMs: PositiveMs(2000, 'spans are exported in batches this often')
  }, { default: {}, additionalProperties: false }),
  log: Type.Object({
    level: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map(l => Type.Literal(l)), { default: 'info' }),
    accessLog: Type.Boolean({ default: true, description: 'one line per gateway request' })
  }, { default: {}, additionalProperties: false }),
  servers: Type.Array(ServerSchema, { default: [] })
}, { additionalProperties: false })

export type Config = Static<typeof ConfigSchema>
export type ServerConfig = Static<typeof ServerSchema>
export type AccessRuleConfig = Static<typeof AccessRule>
