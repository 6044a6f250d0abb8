// The KeyStore seam: users, API key records and invalidation events. Implemented by
// redis.ts (production, shared by replicas) and sqlite.ts (embedded default); both must pass
// test/core/store-contract.ts. Expected misses are `null`; infrastructure failures throw
// StoreUnavailableError; a duplicate email, id or OIDC identity throws StoreConflictError.
import { createHash } from 'node:crypto'
import type { AuditEvent, AuditPage, AuditQuery, KeyUsage } from '../audit.ts'
import type { RateLimits } from '../limits.ts'
import type { KeyScopes } from '../tool-scope.ts'

export type Role = 'admin' | 'user'

/**
 * A person (signs in to the admin API through OIDC) or a service account (never signs in; an admin
 * creates it and its keys). Set at creation, never changed.
 */
export type UserKind = 'human' | 'service'

/**
 * Who a user is at an OIDC issuer: the token's `iss` and `sub` (OIDC Core §2: `sub` is unique and
 * never reassigned within an issuer, unlike an email). Compared exactly, case included.
 */
export interface OidcIdentity {
  issuer: string
  subject: string
}

/** Times are epoch milliseconds throughout the store; the admin API renders them as RFC 3339. */
export interface User {
  id: string
  kind: UserKind
  /** '' for a service account created without one (a human always has one). */
  email: string
  name: string
  role: Role
  groups: string[]
  disabled: boolean
  createdAt: number
  /** Present once the user is linked to an OIDC identity (at most one; one user per identity). */
  identity?: OidcIdentity
}

export interface NewUser {
  /** Optional: the store's caller may choose the id (1–32 base62); otherwise one is generated. */
  id?: string
  /** Default 'human'. */
  kind?: UserKind
  /** '' only for a service account. */
  email: string
  name: string
  role: Role
  groups: string[]
  disabled?: boolean
  /** Linked in the same atomic step; an identity another user holds → StoreConflictError('identity'). */
  identity?: OidcIdentity
}

export interface UserPatch {
  name?: string
  role?: Role
  groups?: string[]
  disabled?: boolean
}

/** What a user write checks in the same atomic step as the write (KeyStore.updateUser, deleteUser). */
export interface UserWriteGuard {
  /**
   * Refuse with `errors.LastAdmin` a write that leaves an enabled admin no longer one (demoted to
   * role user, disabled, deleted) while no other enabled admin exists. Checked with the write, so
   * concurrent removals of the last admins (other requests, replicas, the CLI) cannot all pass.
   */
  keepAnAdmin?: boolean
}

export interface ApiKeyRecord {
  id: string
  userId: string
  name: string
  description: string
  /** `["*"]` = every server the owner can reach, now and later. */
  mcpServerIds: string[]
  /** Per-tool scopes (core/tool-scope.ts): server id or "*" → rule; null or absent = whole servers. */
  scopes?: KeyScopes | null
  createdAt: number
  expiresAt: number | null
  lastUsedAt: number | null
  /** argon2id PHC string of the secret. Never leaves the service boundary. */
  secretHash: string
  /** How often the secret was rotated (absent: never): the secret's generation. */
  secretGeneration?: number
  /** When it was last rotated (epoch ms). */
  rotatedAt?: number
  /** The secret before the last rotation, valid until previousUntil (absent: none, or its overlap is over). */
  previousSecretHash?: string
  previousUntil?: number
  /** The key's own rate limits and quotas (core/limits.ts); absent: the config's defaults. */
  limits?: RateLimits
  /**
   * Present when the record is an OAuth grant (OAuth mode): no secret of it was ever shown, clients
   * reach the gateway with access tokens that name this record's id. Revoked like any key.
   */
  oauth?: OAuthGrantInfo
}

/** Which client an OAuth grant was given to, as the consent page showed it. */
export interface OAuthGrantInfo {
  clientId: string
  clientName: string
  /** The host of the redirect URI the user consented to send the grant to. */
  redirectHost: string
}

export interface AuditRetention {
  /** Epoch ms: older events are dropped. */
  olderThan: number
  /** At most this many events are kept (the newest). */
  maxEvents: number
}

/** Limits a store enforces atomically with a write (see KeyStore.createKey). */
export interface KeyLimits {
  /** A non-negative integer; absent means no limit. */
  maxKeysPerUser?: number
}

export interface Page<T> {
  items: T[]
  /** Opaque; pass back as `cursor` for the next page. null on the last page. */
  nextCursor: string | null
}

export interface PageRequest {
  limit: number
  cursor?: string | null
}

export type InvalidationEvent =
  | { type: 'key', keyId: string }
  | { type: 'user', userId: string }
  | { type: 'all' }

export interface InvalidationListener {
  onEvent(event: InvalidationEvent): void
  /** Called on every (re)subscribe: messages may have been lost, so caches must mark all stale. */
  onResync(): void
}

export interface KeyStore {

  createUser(input: NewUser): Promise<User>
  getUser(id: string): Promise<User | null>
  /** Case-insensitive; '' (a service account without email) finds nobody. */
  getUserByEmail(email: string): Promise<User | null>
  getUserByIdentity(identity: OidcIdentity): Promise<User | null>
  /**
   * Links `identity` to the user, compare-and-set: only if the user's current identity is still
   * `expected` (null: none), replacing it (the old identity is freed). Returns the updated user;
   * null when the user is gone or its identity changed meanwhile (read again and decide again).
   * Rejects with StoreConflictError('identity') when another user holds `identity`. Publishes
   * nothing: an identity decides who signs in to the admin API, not what any key may reach.
   */
  linkIdentity(userId: string, identity: OidcIdentity, expected: OidcIdentity | null): Promise<User | null>
  /** Ordered by createdAt then id, oldest first; with `kind`, only users of that kind. */
  listUsers(page: PageRequest & { kind?: UserKind }): Promise<Page<User>>
  /** Publishes `{type:'user'}`. Returns null when the user does not exist. See UserWriteGuard. */
  updateUser(id: string, patch: UserPatch, guard?: UserWriteGuard): Promise<User | null>
  /**
   * Deletes the user, every key of theirs and their identity link atomically; publishes
   * `{type:'user'}`. See UserWriteGuard.
   */
  deleteUser(id: string, guard?: UserWriteGuard): Promise<boolean>

  /**
   * The record's id and userId are chosen by the caller (key-format). Fails if the owner is gone.
   * With `limits.maxKeysPerUser`, the owner's key count is checked in the same atomic step as the
   * insert and the call rejects with `errors.KeyLimitReached(max)` when the owner already holds
   * `max` keys or more: concurrent creates (other requests, replicas, the CLI) can never exceed it.
   */
  createKey(record: ApiKeyRecord, limits?: KeyLimits): Promise<void>
  getKey(id: string): Promise<ApiKeyRecord | null>
  /** One read for revalidation on the auth path: the record and its owner's current state. */
  getKeyWithOwner(id: string): Promise<{ key: ApiKeyRecord, owner: User } | null>
  /** Newest first (createdAt desc, id desc); `userId` filters to one owner. */
  listKeys(page: PageRequest & { userId?: string }): Promise<Page<ApiKeyRecord>>
  countKeys(userId: string): Promise<number>
  /**
   * A new secret for the same key id (rotation): the current secret becomes the previous one, valid
   * until `previousUntil` (≤ now: not at all; only the newest previous secret is kept), the
   * generation goes up by one; atomically, and publishes `{type:'key'}`. null when the key is gone.
   */
  rotateKey(id: string, secretHash: string, previousUntil: number, now: number): Promise<ApiKeyRecord | null>
  /** Deletes the record and its index entries atomically; publishes `{type:'key'}`. */
  deleteKey(id: string): Promise<ApiKeyRecord | null>
  /** One batched write; entries for keys deleted meanwhile are ignored, never resurrected. */
  recordLastUsed(entries: ReadonlyMap<string, number>): Promise<void>

  /**
   * Binds an MCP session (`id`: an opaque digest the gateway makes of server and session id) to
   * the key whose request created it, unless it is bound already; forgotten after `ttlMs` without
   * a touch. Returns the keyId it is bound to: `keyId`, or the earlier binding's.
   */
  bindSession(id: string, keyId: string, ttlMs: number): Promise<string>
  /** The keyId a session is bound to (its TTL restarts), or null: never bound, ended or expired. */
  getSession(id: string, ttlMs: number): Promise<string | null>
  /** Restarts a binding's TTL (the session is in use); nothing when there is none. */
  touchSession(id: string, ttlMs: number): Promise<void>
  deleteSession(id: string): Promise<void>

  /**
   * Appends audit events (one batch, in order) and applies the retention: events older than
   * `retention.olderThan` (epoch ms) go, and at most `retention.maxEvents` are kept. A batch sent
   * again with the same `batchId` (its first attempt timed out, and may still have landed) is
   * written once.
   */
  appendAudit(events: readonly AuditEvent[], retention: AuditRetention, batchId?: string): Promise<void>
  /** Newest first; filters as in AuditQuery; a page scans at most AUDIT_SCAN_BUDGET events. */
  listAudit(query: AuditQuery): Promise<AuditPage>
  /** A key's activity between `since` and `until` (epoch ms): per hour and day, top tools, last use. */
  keyUsage(keyId: string, since: number, until: number): Promise<KeyUsage>

  /**
   * Takes up to `want` tokens from a limit counter (`bucket`: a subject, a kind and a window) whose
   * total is `limit`; returns how many it got (0: the window's allowance is spent). Atomic across
   * every replica; the counter is forgotten at `expiresAt` (epoch ms, the window's end).
   */
  takeTokens(bucket: string, limit: number, want: number, expiresAt: number): Promise<number>
  /** How many tokens each counter has given in its window (0 for one never taken from). */
  tokensUsed(buckets: readonly string[]): Promise<number[]>
  /** This replica is alive at `now`; returns how many replicas announced themselves within `ttlMs`. */
  announceReplica(id: string, now: number, ttlMs: number): Promise<number>

  /**
   * OAuth mode (admin-api/oauth/): the authorization server's records (oidc-provider's models, its
   * signing keys) as opaque strings by name, each forgotten `ttlMs` after it is written (null:
   * never). Writes replace; nothing is published (the gateway reads a grant through its key).
   */
  putRecord(name: string, value: string, ttlMs: number | null): Promise<void>
  /** Writes only when no live record has the name; returns what is stored then (this value or the one found). */
  putRecordIfAbsent(name: string, value: string, ttlMs: number | null): Promise<string>
  getRecord(name: string): Promise<string | null>
  deleteRecords(names: readonly string[]): Promise<void>
  /** Adds `member` to the set `set`, which is forgotten `ttlMs` after this write (a grant's tokens). */
  addToRecordSet(set: string, member: string, ttlMs: number): Promise<void>
  /** The set's members (none once it expired or was deleted with deleteRecords). */
  recordSetMembers(set: string): Promise<string[]>

  /** Publishes to every process sharing this store (used for config-driven changes). */
  publish(event: InvalidationEvent): Promise<void>
  /** Starts delivering invalidation events; returns an unsubscribe function. */
  subscribe(listener: InvalidationListener): () => void
  /** True while invalidation events are being received (readiness). */
  isSubscribed(): boolean
  /** Round trip to the backing service; throws StoreUnavailableError when down. */
  ping(): Promise<void>
  close(): Promise<void>
}

/** Whom UserWriteGuard.keepAnAdmin keeps: an admin who is not disabled. */
export function isEnabledAdmin (user: Pick<User, 'role' | 'disabled'>): boolean {
  return user.role === 'admin' && !user.disabled
}

/**
 * What the gateway's cache remembers about a record so that revalidation is a cheap equality
 * check: any change to the fields that decide authentication or scope changes the fingerprint.
 */
export function keyFingerprint (record: ApiKeyRecord): string {
  // 16 bytes as 22 base64url characters, encoded from the bytes rather than sliced from a longer
  // string: a slice would keep its 43-character parent alive in every cache entry.
  return createHash('sha256')
    .update(JSON.stringify([record.id, record.userId, record.secretHash, record.mcpServerIds, record.expiresAt, record.scopes ?? null,
      record.secretGeneration ?? 0, record.previousSecretHash ?? null, record.previousUntil ?? null, record.limits ?? null]))
    .digest()
    .toString('base64url', 0, 16)
}

/** Cursor for newest-first key pages: createdAt (fixed width) and id, so ties never skip. */
export function encodeKeyCursor (createdAt: number, id: string): string {
  return `${String(createdAt).padStart(15, '0')}.${id}`
}

export function decodeKeyCursor (cursor: string): { createdAt: number, id: string } | null {
  const m = /^(\d{15})\.([A-Za-z0-9]{1,32})$/.exec(cursor)
  if (m === null) return null
  return { createdAt: Number(m[1]), id: m[2] as string }
}
