// RedisStore: the production KeyStore, shared by every gateway replica. Multi-key writes are Lua
// scripts (atomic, and they PUBLISH the invalidation in the same step); reads on the auth path are
// one round trip; every ioredis failure or timeout becomes StoreUnavailableError.
//
// Layout (all under `prefix`): u:<id> user hash · email:<lowercased> → user id · oidc:<digest of
// issuer and subject> → user id · users zset · k:<id> key hash · keys zset · uk:<userId> zset. Zsets hold lex members `<createdAt 15 digits>.<id>`
// (score 0) so pages are ZRANGEBYLEX with an exclusive cursor. Scripts reach keys they derive
// from the data (a user's key hashes); on Redis Cluster give the prefix a hash tag, e.g. `{mcpgate}:`.
import { createHash } from 'node:crypto'
import { Redis, type RedisOptions } from 'ioredis'
import { systemClock, type Clock } from '../clock.ts'
import { AUDIT_SCAN_BUDGET, auditJson, bucketsFrom, DAY_MS, HOUR_MS, matchesQuery, type AuditEvent, type AuditPage, type AuditQuery, type KeyUsage } from '../audit.ts'
import type { RateLimits } from '../limits.ts'
import type { KeyScopes } from '../tool-scope.ts'
import { errors, StoreConflictError, StoreUnavailableError } from '../errors.ts'
import { randomBase62 } from '../key-format.ts'
import { parseRedisTarget, type RedisTarget } from './redis-url.ts'
import { callStart, checkPageRequest, emailIndexOf, emailLookupOf, maxKeysOf, newUserRecord, notifySafely, pageOf, parseInvalidation, publishCall, serializeInvalidation } from './common.ts'
import {
  encodeKeyCursor,
  type ApiKeyRecord,
  type AuditRetention,
  type InvalidationEvent,
  type InvalidationListener,
  type KeyLimits,
  type KeyStore,
  type NewUser,
  type OAuthGrantInfo,
  type OidcIdentity,
  type Page,
  type PageRequest,
  type Role,
  type User,
  type UserKind,
  type UserPatch,
  type UserWriteGuard
} from './store.ts'

/** How far out of time order audit events may be appended (replicas' clocks, batching). */
const SINCE_SLACK_MS = 5 * 60_000

export interface RedisStoreOptions {
  /**
   * redis://…, rediss://…, a unix socket path (/path/redis.sock or unix:///path/redis.sock), or
   * redis+sentinel://host:port,…/<primary name> (redis-url.ts).
   */
  url: string
  /** Prefix of every key and of the invalidation channel (default `mcpgate:`). */
  prefix?: string
  /** Per-command timeout (default 250 ms): the auth path must fail fast, not hang. */
  commandTimeoutMs?: number
  /** TCP connect timeout (default 1000 ms). */
  connectTimeoutMs?: number
  clock?: Clock
}

/** How often the subscriber connection is pinged, so a silently dead one is noticed and replaced. */
const SUBSCRIBER_HEARTBEAT_MS = 1000
/** Longest wait between reconnect attempts. */
const RECONNECT_CAP_MS = 250
/** Capped backoff that never gives up (ms before attempt `times`). */
function reconnectDelay (times: number): number {
  return Math.min(50 * 2 ** Math.min(times, 10), RECONNECT_CAP_MS)
}

/** recordLastUsed sends at most this many keys per script call. */
const TOUCH_BATCH = 500

interface Script {
  lua: string
  sha: string
}

function script (lua: string): Script {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') }
}

const HASH_OF = `
local function hashOf(flat)
  local h = {}
  for i = 1, #flat, 2 do h[flat[i]] = flat[i + 1] end
  return h
end
`

// Whether an enabled admin other than `id` exists, for UserWriteGuard.keepAnAdmin: a scan of the
// users index, stopping at the first one found (admins are usually among the first users; the
// whole index is read only when the change is refused). No separate admin index to keep in step.
const OTHER_ENABLED_ADMIN = `
local function otherEnabledAdmin(users, prefix, id)
  for _, m in ipairs(redis.call('ZRANGE', users, 0, -1)) do
    local other = string.match(m, '%.(%w+)$')
    if other ~= id then
      local f = redis.call('HMGET', prefix .. 'u:' .. other, 'role', 'disabled')
      if f[1] == 'admin' and f[2] ~= '1' then return true end
    end
  end
  return false
end
`

const scripts = {
  // KEYS: the batch's marker, the audit stream · ARGV: maxEvents, minId, ttl (s), per event 6
  // values: event JSON, usage hash key ('' for no key), hour, outcome, tool name (''), last-used
  // key ('' when not an allowed use) → 1 | 0 the batch was written before. A batch whose reply
  // was lost (a timeout while Redis was frozen: Redis runs it when it thaws) is retried with the
  // same marker and written once.
  appendAudit: script(`
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', 86400) then return 0 end
local ttl = tonumber(ARGV[3])
for i = 4, #ARGV, 6 do
  local event, usage, hour, outcome, tool, last = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[1], '*', 'e', event)
  if usage ~= '' then
    redis.call('HINCRBY', usage, 'c:' .. hour, 1)
    if outcome == 'denied' then redis.call('HINCRBY', usage, 'd:' .. hour, 1) end
    if outcome == 'error' then redis.call('HINCRBY', usage, 'e:' .. hour, 1) end
    if tool ~= '' then redis.call('HINCRBY', usage, 't:' .. tool, 1) end
    redis.call('EXPIRE', usage, ttl)
  end
  if last ~= '' then
    local e = cjson.decode(event)
    redis.call('HSET', last, 'time', tostring(e.time), 'ip', e.ip, 'ua', e.userAgent or '')
    redis.call('EXPIRE', last, ttl)
  end
end
redis.call('XTRIM', KEYS[2], 'MINID', ARGV[2])
return 1
`),
  // KEYS: u:<id>, email:<lower>, users[, oidc:<digest>] · ARGV: id, zset member, field, value, …
  // → 1 | 0 email taken | -1 id taken | -2 identity taken
  createUser: script(`
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
if KEYS[4] and redis.call('EXISTS', KEYS[4]) == 1 then return -2 end
if KEYS[4] then redis.call('SET', KEYS[4], ARGV[1]) end
redis.call('SET', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('ZADD', KEYS[3], 0, ARGV[2])
return 1
`),
  // KEYS: k:<id>, u:<userId>, keys, uk:<userId> · ARGV: zset member, max keys of the owner ('' = no
  // limit), field, value, … → 1 | 0 no owner | -1 id taken | -2 limit reached. The owner's uk: zset
  // is their key index, so its ZCARD is the count; checked here, no concurrent create can slip past.
  createKey: script(`
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
if ARGV[2] ~= '' and redis.call('ZCARD', KEYS[4]) >= tonumber(ARGV[2]) then return -2 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('ZADD', KEYS[3], 0, ARGV[1])
redis.call('ZADD', KEYS[4], 0, ARGV[1])
return 1
`),
  // KEYS: k:<id>, keys · ARGV: prefix, channel, event → the deleted hash (flat) | nil
  // KEYS: the counter · ARGV: limit, want, expire at (ms) → tokens granted
  takeTokens: script(`
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local grant = math.min(tonumber(ARGV[2]), tonumber(ARGV[1]) - used)
if grant <= 0 then return 0 end
redis.call('INCRBY', KEYS[1], grant)
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return grant
`),
  // KEYS: k:<id> · ARGV: new hash, previous until ('' = none), rotated at, channel, event → the
  // rotated hash (flat) | nil
  rotateKey: script(`
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local old = redis.call('HGET', KEYS[1], 'secretHash')
local gen = tonumber(redis.call('HGET', KEYS[1], 'secretGeneration') or '0') or 0
redis.call('HSET', KEYS[1], 'secretHash', ARGV[1], 'secretGeneration', tostring(gen + 1), 'rotatedAt', ARGV[3])
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[1], 'previousSecretHash', 'previousUntil')
else
  redis.call('HSET', KEYS[1], 'previousSecretHash', old, 'previousUntil', ARGV[2])
end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return redis.call('HGETALL', KEYS[1])
`),
  deleteKey: script(HASH_OF + `
local flat = redis.call('HGETALL', KEYS[1])
if #flat == 0 then return false end
local h = hashOf(flat)
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], h.zm)
redis.call('ZREM', ARGV[1] .. 'uk:' .. h.userId, h.zm)
redis.call('PUBLISH', ARGV[2], ARGV[3])
return flat
`),
  // KEYS: u:<id>, users · ARGV: channel, event, keep an admin ('1': the patch leaves the user no
  // enabled admin; ''), prefix, field, value, … → the updated hash (flat) | nil | { -1, email,
  // name } (refused: the last enabled admin)
  updateUser: script(OTHER_ENABLED_ADMIN + `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
if ARGV[3] == '1' then
  local f = redis.call('HMGET', KEYS[1], 'role', 'disabled', 'id', 'email', 'name')
  if f[1] == 'admin' and f[2] ~= '1' and not otherEnabledAdmin(KEYS[2], ARGV[4], f[3]) then return { -1, f[4], f[5] } end
end
if #ARGV > 4 then redis.call('HSET', KEYS[1], unpack(ARGV, 5)) end
redis.call('PUBLISH', ARGV[1], ARGV[2])
return redis.call('HGETALL', KEYS[1])
`),
  // KEYS: u:<id>, users, keys, uk:<id> · ARGV: prefix, channel, event, keep an admin ('1' | '')
  // → 1 | 0 | { -1, email, name } (refused: the last enabled admin)
  deleteUser: script(HASH_OF + OTHER_ENABLED_ADMIN + `
local flat = redis.call('HGETALL', KEYS[1])
if #flat == 0 then return 0 end
local h = hashOf(flat)
if ARGV[4] == '1' and h.role == 'admin' and h.disabled ~= '1' and not otherEnabledAdmin(KEYS[2], ARGV[1], h.id) then
  return { -1, h.email, h.name }
end
for _, m in ipairs(redis.call('ZRANGE', KEYS[4], 0, -1)) do
  redis.call('DEL', ARGV[1] .. 'k:' .. string.match(m, '%.(%w+)$'))
  redis.call('ZREM', KEYS[3], m)
end
redis.call('DEL', KEYS[4], KEYS[1])
local emailKey = ARGV[1] .. 'email:' .. h.emailLower
if redis.call('GET', emailKey) == h.id then redis.call('DEL', emailKey) end
if h.oidcDigest then
  local identityKey = ARGV[1] .. 'oidc:' .. h.oidcDigest
  if redis.call('GET', identityKey) == h.id then redis.call('DEL', identityKey) end
end
redis.call('ZREM', KEYS[2], h.zm)
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
`),
  // KEYS: k:<id>… · ARGV: lastUsedAt… (same order). Existing keys only, and only ever forward.
  touchKeys: script(`
for i, k in ipairs(KEYS) do
  if redis.call('EXISTS', k) == 1 then
    local old = tonumber(redis.call('HGET', k, 'lastUsedAt'))
    if old == nil or tonumber(ARGV[i]) > old then redis.call('HSET', k, 'lastUsedAt', ARGV[i]) end
  end
end
return 0
`),
  // KEYS: k:<id> · ARGV: prefix → { key hash, owner hash } | nil — one round trip for revalidation
  keyWithOwner: script(HASH_OF + `
local k = redis.call('HGETALL', KEYS[1])
if #k == 0 then return false end
local u = redis.call('HGETALL', ARGV[1] .. 'u:' .. hashOf(k).userId)
if #u == 0 then return false end
return { k, u }
`),
  // KEYS: u:<id>, oidc:<digest> · ARGV: id, expected digest ('' = none), prefix, digest, issuer,
  // subject → the updated hash (flat) | nil (no user, or its identity is not the expected one) |
  // 0 (another user holds the identity). The replaced identity's index entry goes in the same step.
  linkIdentity: script(`
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local current = redis.call('HGET', KEYS[1], 'oidcDigest') or ''
if current ~= ARGV[2] then return false end
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[1] then return 0 end
if current ~= '' and current ~= ARGV[4] then
  local old = ARGV[3] .. 'oidc:' .. current
  if redis.call('GET', old) == ARGV[1] then redis.call('DEL', old) end
end
redis.call('SET', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[1], 'oidcDigest', ARGV[4], 'oidcIssuer', ARGV[5], 'oidcSubject', ARGV[6])
return redis.call('HGETALL', KEYS[1])
`),
  // KEYS: an index (email:<lower> or oidc:<digest>) → user id · ARGV: prefix → user hash | nil
  userByIndex: script(`
local id = redis.call('GET', KEYS[1])
if not id then return false end
return redis.call('HGETALL', ARGV[1] .. 'u:' .. id)
`),
  // KEYS: zset · ARGV: hash prefix, from, to, count, 'rev'|'fwd' → { hash (flat, empty if gone) … }
  page: script(`
local members
if ARGV[5] == 'rev' then
  members = redis.call('ZREVRANGEBYLEX', KEYS[1], ARGV[2], ARGV[3], 'LIMIT', 0, tonumber(ARGV[4]))
else
  members = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[2], ARGV[3], 'LIMIT', 0, tonumber(ARGV[4]))
end
local out = {}
for i, m in ipairs(members) do out[i] = redis.call('HGETALL', ARGV[1] .. string.match(m, '%.(%w+)$')) end
return out
`)
} as const

type Hash = Record<string, string>

function hashFromFlat (value: unknown): Hash | null {
  if (!Array.isArray(value) || value.length === 0) return null
  const hash: Hash = {}
  for (let i = 0; i + 1 < value.length; i += 2) hash[String(value[i])] = String(value[i + 1])
  return hash
}

function flatten (fields: Record<string, string>): string[] {
  return Object.entries(fields).flat()
}

function nullableNumber (text: string | undefined): number | null {
  return text === undefined || text === '' ? null : Number(text)
}

/** A script's `{ -1, email, name }`: the write was refused to keep an enabled admin. */
function refuseLastAdmin (result: unknown): void {
  if (!Array.isArray(result) || result[0] !== -1) return
  const [, email, name] = result as [number, string | null, string | null]
  throw new errors.LastAdmin(email === null || email === '' ? name ?? '' : email)
}

function toUser (h: Hash): User {
  return {
    id: h.id ?? '',
    kind: h.kind === 'service' ? 'service' : 'human',
    email: h.email ?? '',
    name: h.name ?? '',
    role: (h.role ?? 'user') as Role,
    groups: JSON.parse(h.groups ?? '[]') as string[],
    disabled: h.disabled === '1',
    createdAt: Number(h.createdAt),
    ...(h.oidcIssuer === undefined || h.oidcSubject === undefined ? {} : { identity: { issuer: h.oidcIssuer, subject: h.oidcSubject } })
  }
}

/**
 * The index key's name for an identity: a digest, so that any issuer URL and subject (up to 255
 * characters, any content) make a short key of fixed shape.
 */
export function identityDigest (identity: OidcIdentity): string {
  return createHash('sha256').update(JSON.stringify([identity.issuer, identity.subject])).digest('hex')
}

function toKey (h: Hash): ApiKeyRecord {
  return {
    id: h.id ?? '',
    userId: h.userId ?? '',
    name: h.name ?? '',
    description: h.description ?? '',
    mcpServerIds: JSON.parse(h.mcpServerIds ?? '[]') as string[],
    // Absent when the key has none: a record reads back exactly as written.
    ...(h.scopes === undefined || h.scopes === '' ? {} : { scopes: JSON.parse(h.scopes) as KeyScopes }),
    createdAt: Number(h.createdAt),
    expiresAt: nullableNumber(h.expiresAt),
    lastUsedAt: nullableNumber(h.lastUsedAt),
    secretHash: h.secretHash ?? '',
    ...(h.secretGeneration === undefined ? {} : { secretGeneration: Number(h.secretGeneration) }),
    ...(h.rotatedAt === undefined ? {} : { rotatedAt: Number(h.rotatedAt) }),
    ...(h.previousSecretHash === undefined || h.previousUntil === undefined ? {} : { previousSecretHash: h.previousSecretHash, previousUntil: Number(h.previousUntil) }),
    ...(h.limits === undefined || h.limits === '' ? {} : { limits: JSON.parse(h.limits) as RateLimits }),
    ...(h.oauth === undefined || h.oauth === '' ? {} : { oauth: JSON.parse(h.oauth) as OAuthGrantInfo })
  }
}

function positiveInt (value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || value < 1) throw new TypeError(`RedisStore: options.${name} must be a positive integer (ms)`)
  return value
}

function connectionTarget (url: string): RedisTarget {
  const target = parseRedisTarget(url)
  if ('error' in target) throw new TypeError(`RedisStore: options.url ${target.error}`)
  return target
}

export class RedisStore implements KeyStore {
  readonly prefix: string
  private readonly channel: string
  private readonly clock: Clock
  private readonly target: RedisTarget
  private readonly options: RedisOptions
  private redis: Redis
  /** Clients about to be replaced after ioredis gave up on them (see replaceWhenEnded). */
  private readonly replacing = new Set<NodeJS.Timeout>()
  /** True until the first connection attempt settles: calls made right after construction wait for it. */
  private connecting = true
  private closed = false

  private subscriber: Redis | null = null
  private subscribed = false
  private heartbeat: NodeJS.Timeout | null = null
  private readonly listeners = new Set<InvalidationListener>()
  /**
   * Tags this store's own messages: its writes are delivered to its listeners synchronously (so a
   * key deleted in this process is refused by this process's gateway on the very next request),
   * and the same message coming back over pub/sub is skipped.
   */
  private readonly origin = randomBase62(12)

  constructor (options: RedisStoreOptions) {
    if (typeof options.url !== 'string' || options.url === '') throw new TypeError('RedisStore: options.url is required')
    this.target = connectionTarget(options.url)
    this.prefix = options.prefix ?? 'mcpgate:'
    this.channel = `${this.prefix}invalidate`
    this.clock = options.clock ?? systemClock
    const commandTimeout = positiveInt(options.commandTimeoutMs, 250, 'commandTimeoutMs')
    this.options = {
      commandTimeout,
      connectTimeout: positiveInt(options.connectTimeoutMs, 1000, 'connectTimeoutMs'),
      // Fail fast while disconnected instead of queueing requests behind an outage; the gateway
      // answers 503 (or serves cached keys) and ioredis keeps reconnecting in the background.
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      // Capped backoff that never gives up: a Redis restart must heal without restarting us. The
      // cap bounds recovery after Redis returns (promised: normal within 1 s); an attempt every
      // 250 ms against a dead server costs nothing worth saving.
      retryStrategy: reconnectDelay,
      lazyConnect: false,
      autoResubscribe: false
    }
    this.redis = this.commandClient()
    const settle = (): void => { this.connecting = false }
    this.redis.once('ready', settle)
    this.redis.once('close', settle)
  }

  async createUser (input: NewUser): Promise<User> {
    const user = newUserRecord(input, this.clock.now())
    const id = user.id
    const emailLower = emailIndexOf(user)
    const member = encodeKeyCursor(user.createdAt, id)
    const digest = user.identity === undefined ? null : identityDigest(user.identity)
    const fields: Record<string, string> = {
      id,
      kind: user.kind,
      email: user.email,
      emailLower,
      name: user.name,
      role: user.role,
      groups: JSON.stringify(user.groups),
      disabled: user.disabled ? '1' : '0',
      createdAt: String(user.createdAt),
      zm: member
    }
    if (user.identity !== undefined && digest !== null) {
      fields.oidcDigest = digest
      fields.oidcIssuer = user.identity.issuer
      fields.oidcSubject = user.identity.subject
    }
    const result = await this.run('createUser', scripts.createUser,
      [this.key('u:', id), this.key('email:', emailLower), this.key('users'), ...(digest === null ? [] : [this.key('oidc:', digest)])],
      [id, member, ...flatten(fields)])
    if (result === 0) throw new StoreConflictError(`A user with email "${input.email}" already exists`, 'email')
    if (result === -1) throw new StoreConflictError(`A user with id "${id}" already exists`, 'id')
    if (result === -2) throw new StoreConflictError('Another user holds this OIDC identity', 'identity')
    return user
  }

  async getUser (id: string): Promise<User | null> {
    const hash = await this.command('getUser', r => r.hgetall(this.key('u:', id)))
    return Object.keys(hash).length === 0 ? null : toUser(hash)
  }

  async getUserByEmail (email: string): Promise<User | null> {
    const lookup = emailLookupOf(email)
    if (lookup === null) return null
    const hash = hashFromFlat(await this.run('getUserByEmail', scripts.userByIndex, [this.key('email:', lookup)], [this.prefix]))
    return hash === null ? null : toUser(hash)
  }

  async getUserByIdentity (identity: OidcIdentity): Promise<User | null> {
    const hash = hashFromFlat(await this.run('getUserByIdentity', scripts.userByIndex, [this.key('oidc:', identityDigest(identity))], [this.prefix]))
    return hash === null ? null : toUser(hash)
  }

  async linkIdentity (userId: string, identity: OidcIdentity, expected: OidcIdentity | null): Promise<User | null> {
    const digest = identityDigest(identity)
    const result = await this.run('linkIdentity', scripts.linkIdentity, [this.key('u:', userId), this.key('oidc:', digest)],
      [userId, expected === null ? '' : identityDigest(expected), this.prefix, digest, identity.issuer, identity.subject])
    if (result === 0) throw new StoreConflictError('Another user holds this OIDC identity', 'identity')
    const hash = hashFromFlat(result)
    return hash === null ? null : toUser(hash)
  }

  async listUsers (page: PageRequest & { kind?: UserKind }): Promise<Page<User>> {
    const { limit, after } = checkPageRequest(page)
    let from = after === null ? '-' : `(${encodeKeyCursor(after.createdAt, after.id)}`
    if (page.kind === undefined) {
      const hashes = await this.page('listUsers', this.key('users'), this.key('u:'), from, '+', limit + 1, 'fwd')
      return pageOf(hashes.map(toUser), limit)
    }
    // One index holds every user: a kind is picked out here, reading on in chunks until the page
    // is full. Users are counted in thousands, not millions; a page reads at most every user once.
    const chunk = Math.max(limit + 1, 100)
    const items: User[] = []
    for (;;) {
      const hashes = await this.page('listUsers', this.key('users'), this.key('u:'), from, '+', chunk, 'fwd')
      for (const h of hashes) {
        const user = toUser(h)
        if (user.kind === page.kind) items.push(user)
        if (items.length > limit) return pageOf(items, limit)
      }
      const last = hashes[hashes.length - 1]
      if (hashes.length < chunk || last === undefined) return pageOf(items, limit)
      from = `(${last.zm ?? ''}`
    }
  }

  async updateUser (id: string, patch: UserPatch, guard: UserWriteGuard = {}): Promise<User | null> {
    const fields: Record<string, string> = {}
    if (patch.name !== undefined) fields.name = patch.name
    if (patch.role !== undefined) fields.role = patch.role
    if (patch.groups !== undefined) fields.groups = JSON.stringify(patch.groups)
    if (patch.disabled !== undefined) fields.disabled = patch.disabled ? '1' : '0'
    // Whatever the user is now, after this patch they are no enabled admin.
    const removesAdmin = guard.keepAnAdmin === true && (patch.role === 'user' || patch.disabled === true)
    const result = await this.run('updateUser', scripts.updateUser, [this.key('u:', id), this.key('users')],
      [this.channel, this.message({ type: 'user', userId: id }), removesAdmin ? '1' : '', this.prefix, ...flatten(fields)])
    refuseLastAdmin(result)
    const hash = hashFromFlat(result)
    if (hash === null) return null
    this.deliverLocally({ type: 'user', userId: id })
    return toUser(hash)
  }

  async deleteUser (id: string, guard: UserWriteGuard = {}): Promise<boolean> {
    const result = await this.run('deleteUser', scripts.deleteUser,
      [this.key('u:', id), this.key('users'), this.key('keys'), this.key('uk:', id)],
      [this.prefix, this.channel, this.message({ type: 'user', userId: id }), guard.keepAnAdmin === true ? '1' : ''])
    refuseLastAdmin(result)
    if (result === 1) this.deliverLocally({ type: 'user', userId: id })
    return result === 1
  }

  async createKey (record: ApiKeyRecord, limits?: KeyLimits): Promise<void> {
    const max = maxKeysOf(limits)
    const member = encodeKeyCursor(record.createdAt, record.id)
    const result = await this.run('createKey', scripts.createKey,
      [this.key('k:', record.id), this.key('u:', record.userId), this.key('keys'), this.key('uk:', record.userId)],
      [member, max === null ? '' : String(max), ...flatten({
        id: record.id,
        userId: record.userId,
        name: record.name,
        description: record.description,
        mcpServerIds: JSON.stringify(record.mcpServerIds),
        scopes: record.scopes === null || record.scopes === undefined ? '' : JSON.stringify(record.scopes),
        limits: record.limits === undefined ? '' : JSON.stringify(record.limits),
        oauth: record.oauth === undefined ? '' : JSON.stringify(record.oauth),
        createdAt: String(record.createdAt),
        expiresAt: record.expiresAt === null ? '' : String(record.expiresAt),
        lastUsedAt: record.lastUsedAt === null ? '' : String(record.lastUsedAt),
        secretHash: record.secretHash,
        zm: member
      })])
    if (result === 0) throw new Error(`createKey: owner user "${record.userId}" does not exist`)
    if (result === -1) throw new StoreConflictError(`An API key with id "${record.id}" already exists`, 'id')
    if (result === -2) throw new errors.KeyLimitReached(max)
  }

  async getKey (id: string): Promise<ApiKeyRecord | null> {
    const hash = await this.command('getKey', r => r.hgetall(this.key('k:', id)))
    return Object.keys(hash).length === 0 ? null : toKey(hash)
  }

  async getKeyWithOwner (id: string): Promise<{ key: ApiKeyRecord, owner: User } | null> {
    const result = await this.run('getKeyWithOwner', scripts.keyWithOwner, [this.key('k:', id)], [this.prefix])
    if (!Array.isArray(result)) return null
    const key = hashFromFlat(result[0])
    const owner = hashFromFlat(result[1])
    return key === null || owner === null ? null : { key: toKey(key), owner: toUser(owner) }
  }

  async listKeys (page: PageRequest & { userId?: string }): Promise<Page<ApiKeyRecord>> {
    const { limit, after } = checkPageRequest(page)
    const zset = page.userId === undefined ? this.key('keys') : this.key('uk:', page.userId)
    const from = after === null ? '+' : `(${encodeKeyCursor(after.createdAt, after.id)}`
    const hashes = await this.page('listKeys', zset, this.key('k:'), from, '-', limit + 1, 'rev')
    return pageOf(hashes.map(toKey), limit)
  }

  async countKeys (userId: string): Promise<number> {
    return this.command('countKeys', r => r.zcard(this.key('uk:', userId)))
  }

  async takeTokens (bucket: string, limit: number, want: number, expiresAt: number): Promise<number> {
    return Number(await this.run('takeTokens', scripts.takeTokens, [this.key('rl:', bucket)], [String(limit), String(want), String(expiresAt)]))
  }

  async tokensUsed (buckets: readonly string[]): Promise<number[]> {
    if (buckets.length === 0) return []
    const values = await this.command('tokensUsed', r => r.mget(...buckets.map(b => this.key('rl:', b))))
    return values.map(v => v === null ? 0 : Number(v))
  }

  async announceReplica (id: string, now: number, ttlMs: number): Promise<number> {
    const key = this.key('replicas')
    return this.command('announceReplica', async r => {
      const results = await r.multi().zadd(key, now, id).zremrangebyscore(key, '-inf', now - ttlMs).zcard(key).exec()
      const failed = results?.find(([err]) => err !== null)?.[0]
      if (failed !== undefined && failed !== null) throw failed
      return Number(results?.[2]?.[1] ?? 1)
    })
  }

  async rotateKey (id: string, secretHash: string, previousUntil: number, now: number): Promise<ApiKeyRecord | null> {
    const hash = hashFromFlat(await this.run('rotateKey', scripts.rotateKey, [this.key('k:', id)],
      [secretHash, previousUntil > now ? String(previousUntil) : '', String(now), this.channel, this.message({ type: 'key', keyId: id })]))
    if (hash === null) return null
    this.deliverLocally({ type: 'key', keyId: id })
    return toKey(hash)
  }

  async deleteKey (id: string): Promise<ApiKeyRecord | null> {
    const hash = hashFromFlat(await this.run('deleteKey', scripts.deleteKey, [this.key('k:', id), this.key('keys')],
      [this.prefix, this.channel, this.message({ type: 'key', keyId: id })]))
    if (hash === null) return null
    this.deliverLocally({ type: 'key', keyId: id })
    return toKey(hash)
  }

  async recordLastUsed (entries: ReadonlyMap<string, number>): Promise<void> {
    const all = [...entries]
    for (let i = 0; i < all.length; i += TOUCH_BATCH) {
      const batch = all.slice(i, i + TOUCH_BATCH)
      await this.run('recordLastUsed', scripts.touchKeys, batch.map(([id]) => this.key('k:', id)), batch.map(([, at]) => String(at)))
    }
  }

  async bindSession (id: string, keyId: string, ttlMs: number): Promise<string> {
    const key = this.key('s:', id)
    // SET NX GET: one round trip that either binds or returns the earlier binding (Redis ≥ 7.0).
    const earlier = await this.command('bindSession', r => r.set(key, keyId, 'PX', ttlMs, 'NX', 'GET'))
    return earlier ?? keyId
  }

  async getSession (id: string, ttlMs: number): Promise<string | null> {
    return this.command('getSession', r => r.getex(this.key('s:', id), 'PX', ttlMs))
  }

  async touchSession (id: string, ttlMs: number): Promise<void> {
    await this.command('touchSession', r => r.pexpire(this.key('s:', id), ttlMs))
  }

  async putRecord (name: string, value: string, ttlMs: number | null): Promise<void> {
    const key = this.key('rec:', name)
    await this.command('putRecord', r => ttlMs === null ? r.set(key, value) : r.set(key, value, 'PX', ttlMs))
  }

  async putRecordIfAbsent (name: string, value: string, ttlMs: number | null): Promise<string> {
    const key = this.key('rec:', name)
    // SET NX GET: one atomic step that writes when absent and returns what was there.
    const found = await this.command('putRecordIfAbsent', r => ttlMs === null
      ? r.set(key, value, 'NX', 'GET')
      : r.set(key, value, 'PX', ttlMs, 'NX', 'GET'))
    return found ?? value
  }

  async getRecord (name: string): Promise<string | null> {
    return this.command('getRecord', r => r.get(this.key('rec:', name)))
  }

  async deleteRecords (names: readonly string[]): Promise<void> {
    if (names.length === 0) return
    await this.command('deleteRecords', r => r.del(...names.flatMap(n => [this.key('rec:', n), this.key('recset:', n)])))
  }

  async addToRecordSet (set: string, member: string, ttlMs: number): Promise<void> {
    const key = this.key('recset:', set)
    await this.command('addToRecordSet', async r => {
      const results = await r.multi().sadd(key, member).pexpire(key, ttlMs).exec()
      const failed = results?.find(([err]) => err !== null)?.[0]
      if (failed !== undefined && failed !== null) throw failed
    })
  }

  async recordSetMembers (set: string): Promise<string[]> {
    const members = await this.command('recordSetMembers', r => r.smembers(this.key('recset:', set)))
    return members.sort()
  }

  async deleteSession (id: string): Promise<void> {
    await this.command('deleteSession', r => r.del(this.key('s:', id)))
  }

  /**
   * One script per batch, run once however often it is sent (`batchId`): each event XADDed to the
   * audit stream (trimmed to maxEvents, and by age with MINID: stream ids are the Redis server's
   * clock, the gateway's is about the same), and each event of a key counted in that key's
   * per-day usage hash (per-hour calls, denials and errors, tool calls by name; expiring after the
   * retention) and its last allowed use.
   */
  async appendAudit (events: readonly AuditEvent[], retention: AuditRetention, batchId: string = randomBase62(16)): Promise<void> {
    if (events.length === 0) return
    const ttlS = String(Math.max(1, Math.ceil((this.clock.now() - retention.olderThan) / 1000) + 86_400))
    const args = [String(retention.maxEvents), `${retention.olderThan}-0`, ttlS]
    for (const e of events) {
      const keyed = e.keyId !== null
      args.push(
        auditJson(e),
        keyed ? this.key('au:', `${e.keyId ?? ''}:${Math.floor(e.time / DAY_MS) * DAY_MS}`) : '',
        String(Math.floor(e.time / HOUR_MS) * HOUR_MS),
        e.outcome,
        e.method === 'tools/call' && e.name !== undefined && e.outcome === 'allowed' ? e.name : '',
        keyed && e.outcome === 'allowed' ? this.key('al:', e.keyId ?? '') : ''
      )
    }
    await this.run('appendAudit', scripts.appendAudit, [this.key('ab:', batchId), this.key('audit')], args)
  }

  async listAudit (query: AuditQuery): Promise<AuditPage> {
    const stream = this.key('audit')
    const items: AuditEvent[] = []
    // Newest first from the cursor (exclusive). Stream ids are the Redis server's clock, events
    // carry the gateway's: `since`/`until` filter on the event's time, and the scan stops once it
    // is well past `since` (events are appended in about time order).
    let end = query.cursor !== null && query.cursor !== undefined ? `(${query.cursor}` : '+'
    const start = '-'
    const stopBelow = query.since === undefined ? null : query.since - SINCE_SLACK_MS
    let scanned = 0
    let lastId: string | null = null
    while (items.length < query.limit && scanned < AUDIT_SCAN_BUDGET) {
      const batch = await this.command('listAudit', r => r.xrevrange(stream, end, start, 'COUNT', Math.min(500, AUDIT_SCAN_BUDGET - scanned)))
      if (batch.length === 0) return { items, nextCursor: null }
      for (const [id, fields] of batch) {
        scanned++
        lastId = id
        const e = { ...(JSON.parse(fields[1] ?? '{}') as AuditEvent), id }
        if (stopBelow !== null && e.time < stopBelow) return { items, nextCursor: null }
        if (matchesQuery(e, query)) {
          items.push(e)
          if (items.length === query.limit) return { items, nextCursor: id }
        }
      }
      end = `(${lastId ?? ''}`
    }
    return { items, nextCursor: lastId }
  }

  async keyUsage (keyId: string, since: number, until: number): Promise<KeyUsage> {
    const days: number[] = []
    for (let d = Math.floor(since / DAY_MS) * DAY_MS; d < until; d += DAY_MS) days.push(d)
    const [hashes, last] = await this.command('keyUsage', async r => {
      const p = r.pipeline()
      for (const d of days) p.hgetall(this.key('au:', `${keyId}:${d}`))
      p.hgetall(this.key('al:', keyId))
      const results = (await p.exec()) ?? []
      const failed = results.find(([err]) => err !== null)?.[0]
      if (failed !== undefined && failed !== null) throw failed
      const values = results.map(([, v]) => v as Record<string, string>)
      return [values.slice(0, days.length), values[days.length] ?? {}] as const
    })
    const hours = new Map<number, { calls: number, denied: number, errors: number }>()
    const tools = new Map<string, number>()
    for (const h of hashes) {
      for (const [field, value] of Object.entries(h)) {
        const n = Number(value)
        const kind = field.slice(0, 2)
        const rest = field.slice(2)
        if (kind === 't:') {
          tools.set(rest, (tools.get(rest) ?? 0) + n)
          continue
        }
        const hour = Number(rest)
        if (hour < since || hour >= until) continue
        const c = hours.get(hour) ?? { calls: 0, denied: 0, errors: 0 }
        if (kind === 'c:') c.calls += n
        else if (kind === 'd:') c.denied += n
        else if (kind === 'e:') c.errors += n
        hours.set(hour, c)
      }
    }
    const topTools = [...tools].map(([name, calls]) => ({ name, calls })).sort((a, b) => b.calls - a.calls || a.name.localeCompare(b.name)).slice(0, 10)
    const lastUsed = last.time === undefined ? null : { time: Number(last.time), ip: last.ip ?? '', userAgent: last.ua === '' || last.ua === undefined ? null : last.ua }
    return { ...bucketsFrom(hours, since, until), topTools, lastUsed }
  }

  async publish (event: InvalidationEvent): Promise<void> {
    await this.command('publish', r => r.publish(this.channel, this.message(event)))
    this.deliverLocally(event)
  }

  subscribe (listener: InvalidationListener): () => void {
    if (this.closed) throw new StoreUnavailableError('redis store is closed')
    this.listeners.add(listener)
    if (this.subscriber === null) this.startSubscriber()
    // Already subscribed: this listener missed everything before now. Otherwise onResync comes
    // when the subscription is (re)established.
    else if (this.subscribed) notifySafely(() => listener.onResync())
    return () => {
      this.listeners.delete(listener)
      if (this.listeners.size === 0) this.stopSubscriber()
    }
  }

  isSubscribed (): boolean {
    return this.subscribed
  }

  async ping (): Promise<void> {
    await this.command('ping', r => r.ping())
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.listeners.clear()
    for (const timer of this.replacing) clearTimeout(timer)
    this.replacing.clear()
    this.stopSubscriber()
    try {
      await this.redis.quit()
    } catch {
      // Not connected (outage): nothing to say goodbye to; stop reconnecting.
    }
    // After quit() too: it leaves the connector alone, and with Sentinel the connector holds the
    // failover detector's own sentinel connections, which would keep reconnecting.
    this.redis.disconnect()
  }

  private key (kind: string, id = ''): string {
    return `${this.prefix}${kind}${id}`
  }

  private commandClient (): Redis {
    const client = this.connect('mcpgate-store')
    this.replaceWhenEnded(client, () => this.redis === client, () => { this.redis = this.commandClient() })
    return client
  }

  /**
   * ioredis normally reconnects for ever (retryStrategy never gives up), but a few paths end a
   * client for good — with Sentinel, a failover announced while it was reconnecting. A client
   * that ends while the store is open and still uses it is replaced, at the reconnect pace.
   */
  private replaceWhenEnded (client: Redis, current: () => boolean, replace: () => void): void {
    client.once('end', () => {
      if (this.closed || !current()) return
      const timer = setTimeout(() => {
        this.replacing.delete(timer)
        if (this.closed || !current()) return
        client.disconnect()
        replace()
      }, RECONNECT_CAP_MS)
      timer.unref()
      this.replacing.add(timer)
    })
  }

  private connect (connectionName: string): Redis {
    const options = { ...this.options, connectionName }
    const target = this.target
    let client: Redis
    if (target.kind === 'url') client = new Redis(target.url, options)
    else if (target.kind === 'socket') client = new Redis({ ...options, path: target.path })
    else client = new Redis({ ...options, ...sentinelOptions(target, this.options) })
    // ioredis emits connection errors as events (and logs them when nobody listens); commands
    // already reject with them, and the subscriber reacts to 'close'.
    client.on('error', () => {})
    return client
  }

  /** One command, with every failure (down, timeout, refused) as StoreUnavailableError. */
  private async command<T> (operation: string, fn: (redis: Redis) => Promise<T>): Promise<T> {
    const started = callStart()
    if (this.closed) {
      publishCall(this, operation, started, true)
      throw new StoreUnavailableError('redis store is closed')
    }
    try {
      if (this.connecting && this.redis.status !== 'ready') await this.firstConnection()
      const result = await fn(this.redis)
      publishCall(this, operation, started, false)
      return result
    } catch (err) {
      publishCall(this, operation, started, true)
      if (err instanceof StoreUnavailableError) throw err
      throw new StoreUnavailableError(`redis store: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    }
  }

  /** EVALSHA, falling back to EVAL once when the server lost its script cache (restart, FLUSH). */
  private run (operation: string, s: Script, keys: string[], args: string[]): Promise<unknown> {
    return this.command(operation, async r => {
      try {
        return await r.evalsha(s.sha, keys.length, ...keys, ...args)
      } catch (err) {
        if (err instanceof Error && err.message.startsWith('NOSCRIPT')) return await r.eval(s.lua, keys.length, ...keys, ...args)
        throw err
      }
    })
  }

  private async page (operation: string, zset: string, hashPrefix: string, from: string, to: string, count: number, dir: 'fwd' | 'rev'): Promise<Hash[]> {
    const result = await this.run(operation, scripts.page, [zset], [hashPrefix, from, to, String(count), dir])
    if (!Array.isArray(result)) return []
    return result.map(hashFromFlat).filter((h): h is Hash => h !== null)
  }

  private firstConnection (): Promise<void> {
    const redis = this.redis
    return new Promise<void>((resolve, reject) => {
      const done = (err?: Error): void => {
        clearTimeout(timer)
        redis.off('ready', onReady)
        redis.off('close', onClose)
        if (err === undefined) resolve()
        else reject(err)
      }
      const onReady = (): void => done()
      const onClose = (): void => done(new StoreUnavailableError('redis store: could not connect'))
      const timer = setTimeout(() => done(new StoreUnavailableError('redis store: connect timed out')), this.options.connectTimeout)
      redis.once('ready', onReady)
      redis.once('close', onClose)
    })
  }

  private message (event: InvalidationEvent): string {
    return serializeInvalidation(event).slice(0, -1) + `,"origin":"${this.origin}"}`
  }

  private deliverLocally (event: InvalidationEvent): void {
    for (const listener of this.listeners) notifySafely(() => listener.onEvent(event))
  }

  private startSubscriber (): void {
    const sub = this.connect('mcpgate-subscriber')
    this.subscriber = sub
    this.replaceWhenEnded(sub, () => this.subscriber === sub, () => {
      this.stopSubscriber()
      this.startSubscriber()
    })
    sub.on('ready', () => { this.resubscribe(sub).catch(() => {}) })
    sub.on('close', () => { this.subscribed = false })
    sub.on('message', (channel: string, message: string) => {
      if (channel !== this.channel) return
      if (isFrom(message, this.origin)) return
      // An event we cannot read (a newer version's?) is treated as "drop everything".
      const event = parseInvalidation(message) ?? { type: 'all' }
      for (const listener of this.listeners) notifySafely(() => listener.onEvent(event))
    })
    // A subscriber gets no replies unless something is published, so a dead socket (e.g. a
    // network partition) would go unnoticed: ping it, and reconnect when the ping fails.
    this.heartbeat = setInterval(() => {
      if (sub.status !== 'ready') return
      sub.ping().catch(() => { if (this.subscriber === sub) sub.disconnect(true) })
    }, SUBSCRIBER_HEARTBEAT_MS)
    this.heartbeat.unref()
  }

  /** On every (re)connect: subscribe, then tell listeners to resync — messages may have been lost meanwhile. */
  private async resubscribe (sub: Redis): Promise<void> {
    try {
      await sub.subscribe(this.channel)
    } catch {
      if (this.subscriber === sub) sub.disconnect(true)
      return
    }
    if (this.subscriber !== sub) return
    this.subscribed = true
    for (const listener of this.listeners) notifySafely(() => listener.onResync())
  }

  private stopSubscriber (): void {
    if (this.heartbeat !== null) clearInterval(this.heartbeat)
    this.heartbeat = null
    this.subscribed = false
    const sub = this.subscriber
    this.subscriber = null
    sub?.disconnect()
  }
}

/**
 * ioredis asks the sentinels for the current primary on every (re)connect, and checks that what
 * it reached is a primary. `failoverDetector`: it also listens to the sentinels' +switch-master
 * and reconnects at once, instead of writing to a demoted primary until that one drops it.
 */
function sentinelOptions (target: Extract<RedisTarget, { kind: 'sentinel' }>, base: RedisOptions): RedisOptions {
  const out: RedisOptions = {
    sentinels: target.sentinels,
    name: target.name,
    role: 'master',
    failoverDetector: true,
    // No sentinel answering is an outage like any other: keep trying, at the same capped pace.
    sentinelRetryStrategy: reconnectDelay,
    sentinelCommandTimeout: base.connectTimeout
  }
  if (target.username !== undefined) out.username = target.username
  if (target.password !== undefined) out.password = target.password
  if (target.sentinelUsername !== undefined) out.sentinelUsername = target.sentinelUsername
  if (target.sentinelPassword !== undefined) out.sentinelPassword = target.sentinelPassword
  return out
}

/** Whether a pub/sub message was published by the store tagged `origin` (already delivered locally). */
function isFrom (message: string, origin: string): boolean {
  return message.endsWith(`,"origin":"${origin}"}`)
}
