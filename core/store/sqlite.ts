// SqliteStore: the embedded KeyStore (single node, no server to run). Other processes (the CLI
// while `mcpgate start` runs) write the same file, so invalidations go through a log table that
// subscribers poll; `PRAGMA data_version` makes a poll with nothing new nearly free.
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { systemClock, type Clock } from '../clock.ts'
import { auditJson, bucketsFrom, type AuditEvent, type AuditPage, type AuditQuery, type KeyUsage } from '../audit.ts'
import type { RateLimits } from '../limits.ts'
import type { KeyScopes } from '../tool-scope.ts'
import { errors, StoreConflictError, StoreUnavailableError } from '../errors.ts'
import { callStart, checkPageRequest, emailIndexOf, emailLookupOf, maxKeysOf, newUserRecord, notifySafely, pageOf, parseInvalidation, publishCall, sameIdentity, serializeInvalidation } from './common.ts'
import {
  isEnabledAdmin,
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

export interface SqliteStoreOptions {
  /** Database file; its parent directory is created when missing. */
  path: string
  clock?: Clock
  /** How often subscribers poll the invalidation log (default 25 ms). */
  pollMs?: number
  /**
   * SQLite's page cache for this connection, in KiB (default 2048, SQLite's own default).
   * better-sqlite3 builds SQLite with 16 MB, which a gateway reading 100,000 keys fills and keeps.
   */
  cacheKiB?: number
}

/** Invalidation rows older than this are pruned; a live subscriber reads them within one poll. */
const LOG_RETENTION_MS = 10 * 60_000
const PRUNE_EVERY_MS = 60_000
/** Rows per lastUsedAt transaction; the flush yields to the event loop between chunks. */
const LAST_USED_CHUNK = 500
const BUSY_TIMEOUT_MS = 5000

const SCHEMA = `
CREATE TABLE IF NOT EXISTS users (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL DEFAULT 'human',
  email TEXT NOT NULL,
  email_lower TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  groups TEXT NOT NULL,
  disabled INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  oidc_issuer TEXT,
  oidc_subject TEXT
);
CREATE INDEX IF NOT EXISTS users_created ON users (created_at, id);
CREATE TABLE IF NOT EXISTS api_keys (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  description TEXT NOT NULL,
  mcp_server_ids TEXT NOT NULL,
  scopes TEXT,
  secret_generation INTEGER,
  rotated_at INTEGER,
  previous_secret_hash TEXT,
  previous_until INTEGER,
  limits TEXT,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  last_used_at INTEGER,
  secret_hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS api_keys_user_created ON api_keys (user_id, created_at, id);
CREATE INDEX IF NOT EXISTS api_keys_created ON api_keys (created_at, id);
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY,
  key_id TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_expires ON sessions (expires_at);
CREATE TABLE IF NOT EXISTS audit_events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  key_id TEXT,
  user_id TEXT,
  server_id TEXT,
  method TEXT NOT NULL,
  name TEXT,
  outcome TEXT NOT NULL,
  event TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_at ON audit_events (at);
CREATE INDEX IF NOT EXISTS audit_key_at ON audit_events (key_id, at);
CREATE TABLE IF NOT EXISTS limit_counters (
  bucket TEXT PRIMARY KEY,
  used INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS limit_counters_expires ON limit_counters (expires_at);
CREATE TABLE IF NOT EXISTS replicas (
  id TEXT PRIMARY KEY,
  seen INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  expires_at INTEGER
);
CREATE TABLE IF NOT EXISTS record_sets (
  name TEXT NOT NULL,
  member TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (name, member)
);
CREATE TABLE IF NOT EXISTS invalidations (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  event TEXT NOT NULL,
  at INTEGER NOT NULL
);
`

/** After addIdentityColumns (a file from before them has no such columns to index yet). NULLs never collide. */
const IDENTITY_INDEX = 'CREATE UNIQUE INDEX IF NOT EXISTS users_oidc_identity ON users (oidc_issuer, oidc_subject)'

interface UserRow {
  id: string
  kind: string
  email: string
  name: string
  role: string
  groups: string
  disabled: number
  created_at: number
  oidc_issuer: string | null
  oidc_subject: string | null
}

interface KeyRow {
  id: string
  user_id: string
  name: string
  description: string
  mcp_server_ids: string
  scopes: string | null
  secret_generation: number | null
  rotated_at: number | null
  previous_secret_hash: string | null
  previous_until: number | null
  limits: string | null
  oauth: string | null
  created_at: number
  expires_at: number | null
  last_used_at: number | null
  secret_hash: string
}

type KeyOwnerRow = KeyRow & { [K in keyof UserRow as `owner_${K}`]: UserRow[K] }

interface LogRow {
  id: number
  event: string
}

const KEY_COLUMNS = 'k.id, k.user_id, k.name, k.description, k.mcp_server_ids, k.scopes, k.secret_generation, k.rotated_at, k.previous_secret_hash, k.previous_until, k.limits, k.oauth, k.created_at, k.expires_at, k.last_used_at, k.secret_hash'
const OWNER_COLUMNS = 'u.id AS owner_id, u.kind AS owner_kind, u.email AS owner_email, u.name AS owner_name, u.role AS owner_role, ' +
  'u.groups AS owner_groups, u.disabled AS owner_disabled, u.created_at AS owner_created_at, ' +
  'u.oidc_issuer AS owner_oidc_issuer, u.oidc_subject AS owner_oidc_subject'

function toUser (row: UserRow): User {
  return {
    id: row.id,
    kind: row.kind === 'service' ? 'service' : 'human',
    email: row.email,
    name: row.name,
    role: row.role as Role,
    groups: JSON.parse(row.groups) as string[],
    disabled: row.disabled !== 0,
    createdAt: row.created_at,
    ...(row.oidc_issuer === null || row.oidc_subject === null ? {} : { identity: { issuer: row.oidc_issuer, subject: row.oidc_subject } })
  }
}

function toKey (row: KeyRow): ApiKeyRecord {
  return {
    id: row.id,
    userId: row.user_id,
    name: row.name,
    description: row.description,
    mcpServerIds: JSON.parse(row.mcp_server_ids) as string[],
    // Absent when the key has none: a record reads back exactly as written.
    ...(row.scopes === null ? {} : { scopes: JSON.parse(row.scopes) as KeyScopes }),
    ...(row.secret_generation === null ? {} : { secretGeneration: row.secret_generation }),
    ...(row.rotated_at === null ? {} : { rotatedAt: row.rotated_at }),
    ...(row.previous_secret_hash === null || row.previous_until === null ? {} : { previousSecretHash: row.previous_secret_hash, previousUntil: row.previous_until }),
    ...(row.limits === null ? {} : { limits: JSON.parse(row.limits) as RateLimits }),
    ...(row.oauth === null ? {} : { oauth: JSON.parse(row.oauth) as OAuthGrantInfo }),
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
    secretHash: row.secret_hash
  }
}

function ownerOf (row: KeyOwnerRow): User {
  return toUser({
    id: row.owner_id,
    kind: row.owner_kind,
    email: row.owner_email,
    name: row.owner_name,
    role: row.owner_role,
    groups: row.owner_groups,
    disabled: row.owner_disabled,
    created_at: row.owner_created_at,
    oidc_issuer: row.owner_oidc_issuer,
    oidc_subject: row.owner_oidc_subject
  })
}

/**
 * Files written before OIDC identities were linked have no identity columns: added once, in an
 * IMMEDIATE transaction that checks again, so processes opening the same file at once (the CLI
 * beside a running server) cannot both add them.
 */
function addIdentityColumns (db: Database.Database): void {
  addColumns(db, 'users', 'oidc_issuer', 'ALTER TABLE users ADD COLUMN oidc_issuer TEXT; ALTER TABLE users ADD COLUMN oidc_subject TEXT')
}

/** Files written before service accounts have no kind column: added once, every user a human. */
function addKindColumn (db: Database.Database): void {
  addColumns(db, 'users', 'kind', 'ALTER TABLE users ADD COLUMN kind TEXT NOT NULL DEFAULT \'human\'')
}

/** Files written before per-tool scopes have no scopes column: added once, as the identity columns. */
function addScopesColumn (db: Database.Database): void {
  addColumns(db, 'api_keys', 'scopes', 'ALTER TABLE api_keys ADD COLUMN scopes TEXT')
}

/** Files written before rate limits have no limits column: added once. */
function addLimitsColumn (db: Database.Database): void {
  addColumns(db, 'api_keys', 'limits', 'ALTER TABLE api_keys ADD COLUMN limits TEXT')
}

/** Files written before OAuth mode have no oauth column (a grant's client): added once. */
function addOAuthColumn (db: Database.Database): void {
  addColumns(db, 'api_keys', 'oauth', 'ALTER TABLE api_keys ADD COLUMN oauth TEXT')
}

/** Files written before key rotation have no rotation columns: added once. */
function addRotationColumns (db: Database.Database): void {
  addColumns(db, 'api_keys', 'secret_generation', 'ALTER TABLE api_keys ADD COLUMN secret_generation INTEGER; ALTER TABLE api_keys ADD COLUMN rotated_at INTEGER; ' +
    'ALTER TABLE api_keys ADD COLUMN previous_secret_hash TEXT; ALTER TABLE api_keys ADD COLUMN previous_until INTEGER')
}

function addColumns (db: Database.Database, table: string, probe: string, ddl: string): void {
  const missing = (): boolean => !(db.pragma(`table_info(${table})`) as Array<{ name: string }>).some(c => c.name === probe)
  if (!missing()) return
  db.transaction(() => {
    if (!missing()) return
    db.exec(ddl)
  }).immediate()
}

/**
 * SQLite's own failures (locked past busy_timeout, I/O, corrupt file) mean the store is unusable
 * right now; our own errors (conflict, missing owner, bad input) pass through unchanged.
 */
/** Audit events per INSERT statement. */
const AUDIT_ROWS = 10
const AUDIT_INSERT = 'INSERT INTO audit_events (at, key_id, user_id, server_id, method, name, outcome, event) VALUES '

type AuditValues = Array<string | number | null>

/** The bound values of `n` events from `from`: the columns, and the rest of each as JSON. */
function auditRows (events: readonly AuditEvent[], from: number, n: number): AuditValues {
  const values: AuditValues = []
  for (let i = from; i < from + n; i++) {
    const e = events[i] as AuditEvent
    values.push(e.time, e.keyId, e.userId, e.serverId, e.method, e.name ?? null, e.outcome, auditJson(e, true))
  }
  return values
}

interface AuditRow { seq: number, at: number, key_id: string | null, user_id: string | null, server_id: string | null, method: string, name: string | null, outcome: AuditEvent['outcome'], event: string }

/** A stored event: its JSON (the whole event in rows written before 2026-12, the rest since) under its columns. */
function auditEventOf (row: AuditRow): AuditEvent {
  const e = JSON.parse(row.event) as AuditEvent
  e.id = String(row.seq)
  e.time = row.at
  e.keyId = row.key_id
  e.userId = row.user_id
  e.serverId = row.server_id
  e.method = row.method
  if (row.name !== null) e.name = row.name
  e.outcome = row.outcome
  return e
}

function rethrow (err: unknown): never {
  if (err instanceof Database.SqliteError) {
    throw new StoreUnavailableError(`sqlite store: ${err.message}`, { cause: err })
  }
  throw err
}

export class SqliteStore implements KeyStore {
  readonly path: string
  private readonly db: Database.Database
  private readonly clock: Clock
  private readonly pollMs: number
  private readonly listeners = new Set<InvalidationListener>()
  private timer: NodeJS.Timeout | null = null
  private lastSeenId = 0
  private lastDataVersion = 0
  /** Log rows this connection wrote and already delivered in-process, skipped by the poll. */
  private readonly ownIds = new Set<number>()
  private lastPruneAt = 0
  private pollFailing = false
  private closed = false

  private readonly stmt: {
    userById: Database.Statement<[string], UserRow>
    userByEmail: Database.Statement<[string], UserRow>
    userByIdentity: Database.Statement<[string, string], UserRow>
    setIdentity: Database.Statement<[string | null, string | null, string]>
    usersFirst: Database.Statement<[{ kind: string | null, limit: number }], UserRow>
    usersAfter: Database.Statement<[{ kind: string | null, createdAt: number, id: string, limit: number }], UserRow>
    insertUser: Database.Statement<[UserRow & { email_lower: string }]>
    updateUser: Database.Statement<[string, string, string, number, string]>
    deleteUser: Database.Statement<[string]>
    otherEnabledAdmin: Database.Statement<[string], number>
    keyById: Database.Statement<[string], KeyRow>
    keyWithOwner: Database.Statement<[string], KeyOwnerRow>
    keysFirst: Database.Statement<[number], KeyRow>
    keysAfter: Database.Statement<[number, string, number], KeyRow>
    userKeysFirst: Database.Statement<[string, number], KeyRow>
    userKeysAfter: Database.Statement<[string, number, string, number], KeyRow>
    countKeys: Database.Statement<[string], number>
    insertKey: Database.Statement<[KeyRow]>
    deleteKey: Database.Statement<[string]>
    rotateKey: Database.Statement<[string, number, number, string | null, number | null, string]>
    tokensUsed: Database.Statement<[string, number], number>
    upsertTokens: Database.Statement<[string, number, number]>
    pruneTokens: Database.Statement<[number]>
    seenReplica: Database.Statement<[string, number]>
    pruneReplicas: Database.Statement<[number]>
    countReplicas: Database.Statement<[], number>
    touchKey: Database.Statement<[number, string]>
    insertEvent: Database.Statement<[string, number]>
    pruneEvents: Database.Statement<[number]>
    lastEventId: Database.Statement<[], number>
    eventsAfter: Database.Statement<[number], LogRow>
    dataVersion: Database.Statement<[], number>
    ping: Database.Statement<[], number>
    bindSession: Database.Statement<[string, string, number, number]>
    sessionOwner: Database.Statement<[string, number], string>
    touchSession: Database.Statement<[number, string, number]>
    deleteSession: Database.Statement<[string]>
    pruneSessions: Database.Statement<[number]>
    insertAudit: Database.Statement<AuditValues>
    insertAuditRows: Database.Statement<AuditValues>
    pruneAuditByAge: Database.Statement<[number]>
    pruneAuditByCount: Database.Statement<[number]>
    usageHours: Database.Statement<[string, number, number], { hour: number, calls: number, denied: number, errors: number }>
    usageTools: Database.Statement<[string, number, number], { name: string, calls: number }>
    usageLast: Database.Statement<[string], { at: number, event: string }>
  }

  constructor (options: SqliteStoreOptions) {
    if (typeof options.path !== 'string' || options.path === '') throw new TypeError('SqliteStore: options.path must be a file path')
    const pollMs = options.pollMs ?? 25
    if (!Number.isInteger(pollMs) || pollMs < 1) throw new TypeError('SqliteStore: options.pollMs must be a positive integer')
    const cacheKiB = options.cacheKiB ?? 2048
    if (!Number.isInteger(cacheKiB) || cacheKiB < 0) throw new TypeError('SqliteStore: options.cacheKiB must be a non-negative integer')
    this.path = options.path
    this.clock = options.clock ?? systemClock
    this.pollMs = pollMs
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true })
    this.db = new Database(options.path, { timeout: BUSY_TIMEOUT_MS })
    this.db.pragma('journal_mode = WAL')
    // NORMAL is durable across application crashes in WAL mode; only an OS crash may lose the
    // last transactions, which for revocations the operator simply repeats.
    this.db.pragma('synchronous = NORMAL')
    this.db.pragma('foreign_keys = ON')
    this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`)
    // Negative: a size in KiB rather than in pages.
    this.db.pragma(`cache_size = ${-cacheKiB}`)
    this.db.exec(SCHEMA)
    addIdentityColumns(this.db)
    addKindColumn(this.db)
    addScopesColumn(this.db)
    addRotationColumns(this.db)
    addLimitsColumn(this.db)
    addOAuthColumn(this.db)
    this.db.exec(IDENTITY_INDEX)

    const db = this.db
    this.stmt = {
      userById: db.prepare('SELECT * FROM users WHERE id = ?'),
      userByEmail: db.prepare('SELECT * FROM users WHERE email_lower = ?'),
      userByIdentity: db.prepare('SELECT * FROM users WHERE oidc_issuer = ? AND oidc_subject = ?'),
      setIdentity: db.prepare('UPDATE users SET oidc_issuer = ?, oidc_subject = ? WHERE id = ?'),
      usersFirst: db.prepare('SELECT * FROM users WHERE (@kind IS NULL OR kind = @kind) ORDER BY created_at, id LIMIT @limit'),
      usersAfter: db.prepare('SELECT * FROM users WHERE (@kind IS NULL OR kind = @kind) AND (created_at, id) > (@createdAt, @id) ORDER BY created_at, id LIMIT @limit'),
      insertUser: db.prepare('INSERT INTO users (id, kind, email, email_lower, name, role, groups, disabled, created_at, oidc_issuer, oidc_subject) ' +
        'VALUES (@id, @kind, @email, @email_lower, @name, @role, @groups, @disabled, @created_at, @oidc_issuer, @oidc_subject)'),
      updateUser: db.prepare('UPDATE users SET name = ?, role = ?, groups = ?, disabled = ? WHERE id = ?'),
      deleteUser: db.prepare('DELETE FROM users WHERE id = ?'),
      otherEnabledAdmin: db.prepare<[string], number>("SELECT 1 FROM users WHERE role = 'admin' AND disabled = 0 AND id != ? LIMIT 1").pluck(),
      keyById: db.prepare(`SELECT ${KEY_COLUMNS} FROM api_keys k WHERE k.id = ?`),
      keyWithOwner: db.prepare(`SELECT ${KEY_COLUMNS}, ${OWNER_COLUMNS} FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.id = ?`),
      keysFirst: db.prepare(`SELECT ${KEY_COLUMNS} FROM api_keys k ORDER BY k.created_at DESC, k.id DESC LIMIT ?`),
      keysAfter: db.prepare(`SELECT ${KEY_COLUMNS} FROM api_keys k WHERE (k.created_at, k.id) < (?, ?) ORDER BY k.created_at DESC, k.id DESC LIMIT ?`),
      userKeysFirst: db.prepare(`SELECT ${KEY_COLUMNS} FROM api_keys k WHERE k.user_id = ? ORDER BY k.created_at DESC, k.id DESC LIMIT ?`),
      userKeysAfter: db.prepare(`SELECT ${KEY_COLUMNS} FROM api_keys k WHERE k.user_id = ? AND (k.created_at, k.id) < (?, ?) ORDER BY k.created_at DESC, k.id DESC LIMIT ?`),
      countKeys: db.prepare<[string], number>('SELECT count(*) FROM api_keys WHERE user_id = ?').pluck(),
      insertKey: db.prepare('INSERT INTO api_keys (id, user_id, name, description, mcp_server_ids, scopes, secret_generation, rotated_at, previous_secret_hash, previous_until, limits, oauth, created_at, expires_at, last_used_at, secret_hash) ' +
        'VALUES (@id, @user_id, @name, @description, @mcp_server_ids, @scopes, @secret_generation, @rotated_at, @previous_secret_hash, @previous_until, @limits, @oauth, @created_at, @expires_at, @last_used_at, @secret_hash)'),
      deleteKey: db.prepare('DELETE FROM api_keys WHERE id = ?'),
      tokensUsed: db.prepare<[string, number], number>('SELECT used FROM limit_counters WHERE bucket = ? AND expires_at > ?').pluck(),
      upsertTokens: db.prepare('INSERT INTO limit_counters (bucket, used, expires_at) VALUES (?, ?, ?) ON CONFLICT (bucket) DO UPDATE SET used = excluded.used, expires_at = excluded.expires_at'),
      pruneTokens: db.prepare('DELETE FROM limit_counters WHERE bucket IN (SELECT bucket FROM limit_counters WHERE expires_at <= ? LIMIT 100)'),
      seenReplica: db.prepare('INSERT INTO replicas (id, seen) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET seen = excluded.seen'),
      pruneReplicas: db.prepare('DELETE FROM replicas WHERE seen < ?'),
      countReplicas: db.prepare<[], number>('SELECT count(*) FROM replicas').pluck(),
      rotateKey: db.prepare('UPDATE api_keys SET secret_hash = ?, secret_generation = ?, rotated_at = ?, previous_secret_hash = ?, previous_until = ? WHERE id = ?'),
      // max() of the stored and the new value: batches from several replicas may arrive out of order.
      touchKey: db.prepare('UPDATE api_keys SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?'),
      insertEvent: db.prepare('INSERT INTO invalidations (event, at) VALUES (?, ?)'),
      pruneEvents: db.prepare('DELETE FROM invalidations WHERE at < ?'),
      // The highest id ever assigned (survives pruning), so a gap after it always means lost rows.
      lastEventId: db.prepare<[], number>("SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'invalidations'").pluck(),
      eventsAfter: db.prepare('SELECT id, event FROM invalidations WHERE id > ? ORDER BY id'),
      dataVersion: db.prepare<[], number>('PRAGMA data_version').pluck(),
      ping: db.prepare<[], number>('SELECT 1').pluck(),
      // A row left by an expired session is taken over; a live one is kept.
      bindSession: db.prepare('INSERT INTO sessions (id, key_id, expires_at) VALUES (?, ?, ?) ' +
        'ON CONFLICT (id) DO UPDATE SET key_id = excluded.key_id, expires_at = excluded.expires_at WHERE sessions.expires_at <= ?'),
      sessionOwner: db.prepare<[string, number], string>('SELECT key_id FROM sessions WHERE id = ? AND expires_at > ?').pluck(),
      touchSession: db.prepare('UPDATE sessions SET expires_at = ? WHERE id = ? AND expires_at > ?'),
      deleteSession: db.prepare('DELETE FROM sessions WHERE id = ?'),
      pruneSessions: db.prepare('DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE expires_at <= ? LIMIT 100)'),
      insertAudit: db.prepare<AuditValues>(AUDIT_INSERT + '(?, ?, ?, ?, ?, ?, ?, ?)'),
      insertAuditRows: db.prepare<AuditValues>(AUDIT_INSERT + Array(AUDIT_ROWS).fill('(?, ?, ?, ?, ?, ?, ?, ?)').join(', ')),
      pruneAuditByAge: db.prepare('DELETE FROM audit_events WHERE at < ?'),
      // Keeps the newest `?` rows: seq only grows and rows go from the oldest, so the kept ones
      // are the last `?` numbers (an OFFSET would walk them all at every batch).
      pruneAuditByCount: db.prepare('DELETE FROM audit_events WHERE seq <= (SELECT max(seq) FROM audit_events) - ?'),
      usageHours: db.prepare('SELECT (at / 3600000) * 3600000 AS hour, count(*) AS calls, sum(outcome = \'denied\') AS denied, sum(outcome = \'error\') AS errors ' +
        'FROM audit_events WHERE key_id = ? AND at >= ? AND at < ? GROUP BY hour'),
      usageTools: db.prepare('SELECT name, count(*) AS calls FROM audit_events WHERE key_id = ? AND at >= ? AND at < ? AND method = \'tools/call\' AND outcome = \'allowed\' AND name IS NOT NULL ' +
        'GROUP BY name ORDER BY calls DESC, name LIMIT 10'),
      usageLast: db.prepare<[string], { at: number, event: string }>('SELECT at, event FROM audit_events WHERE key_id = ? AND outcome = \'allowed\' ORDER BY seq DESC LIMIT 1')
    }
  }

  async createUser (input: NewUser): Promise<User> {
    const user = newUserRecord(input, this.clock.now())
    const id = user.id
    const emailLower = emailIndexOf(user)
    this.write('createUser', () => {
      if (this.stmt.userByEmail.get(emailLower) !== undefined) {
        throw new StoreConflictError(`A user with email "${input.email}" already exists`, 'email')
      }
      if (this.stmt.userById.get(id) !== undefined) throw new StoreConflictError(`A user with id "${id}" already exists`, 'id')
      if (user.identity !== undefined && this.stmt.userByIdentity.get(user.identity.issuer, user.identity.subject) !== undefined) {
        throw new StoreConflictError('Another user holds this OIDC identity', 'identity')
      }
      this.stmt.insertUser.run({
        id,
        kind: user.kind,
        email: user.email,
        email_lower: emailLower,
        name: user.name,
        role: user.role,
        groups: JSON.stringify(user.groups),
        disabled: user.disabled ? 1 : 0,
        created_at: user.createdAt,
        oidc_issuer: user.identity?.issuer ?? null,
        oidc_subject: user.identity?.subject ?? null
      })
      return []
    })
    return user
  }

  async getUser (id: string): Promise<User | null> {
    const row = this.read('getUser', () => this.stmt.userById.get(id))
    return row === undefined ? null : toUser(row)
  }

  async getUserByEmail (email: string): Promise<User | null> {
    const lookup = emailLookupOf(email)
    if (lookup === null) return null
    const row = this.read('getUserByEmail', () => this.stmt.userByEmail.get(lookup))
    return row === undefined ? null : toUser(row)
  }

  async getUserByIdentity (identity: OidcIdentity): Promise<User | null> {
    const row = this.read('getUserByIdentity', () => this.stmt.userByIdentity.get(identity.issuer, identity.subject))
    return row === undefined ? null : toUser(row)
  }

  async linkIdentity (userId: string, identity: OidcIdentity, expected: OidcIdentity | null): Promise<User | null> {
    let linked: User | null = null
    this.write('linkIdentity', () => {
      const row = this.stmt.userById.get(userId)
      if (row === undefined) return []
      const user = toUser(row)
      if (!sameIdentity(user.identity, expected)) return []
      const holder = this.stmt.userByIdentity.get(identity.issuer, identity.subject)
      if (holder !== undefined && holder.id !== userId) throw new StoreConflictError('Another user holds this OIDC identity', 'identity')
      this.stmt.setIdentity.run(identity.issuer, identity.subject, userId)
      linked = { ...user, identity: { issuer: identity.issuer, subject: identity.subject } }
      return []
    })
    return linked
  }

  async listUsers (page: PageRequest & { kind?: UserKind }): Promise<Page<User>> {
    const { limit, after } = checkPageRequest(page)
    const kind = page.kind ?? null
    const rows = this.read('listUsers', () => after === null
      ? this.stmt.usersFirst.all({ kind, limit: limit + 1 })
      : this.stmt.usersAfter.all({ kind, createdAt: after.createdAt, id: after.id, limit: limit + 1 }))
    return pageOf(rows.map(toUser), limit)
  }

  async updateUser (id: string, patch: UserPatch, guard: UserWriteGuard = {}): Promise<User | null> {
    let updated: User | null = null
    this.write('updateUser', () => {
      const row = this.stmt.userById.get(id)
      if (row === undefined) return []
      const current = toUser(row)
      const user = { ...current }
      if (patch.name !== undefined) user.name = patch.name
      if (patch.role !== undefined) user.role = patch.role
      if (patch.groups !== undefined) user.groups = [...patch.groups]
      if (patch.disabled !== undefined) user.disabled = patch.disabled
      // Inside the IMMEDIATE transaction: no other writer can demote another admin meanwhile.
      if (guard.keepAnAdmin === true && isEnabledAdmin(current) && !isEnabledAdmin(user)) this.keepAnAdmin(current)
      this.stmt.updateUser.run(user.name, user.role, JSON.stringify(user.groups), user.disabled ? 1 : 0, id)
      updated = user
      return [{ type: 'user', userId: id }]
    })
    return updated
  }

  async deleteUser (id: string, guard: UserWriteGuard = {}): Promise<boolean> {
    let deleted = false
    this.write('deleteUser', () => {
      if (guard.keepAnAdmin === true) {
        const row = this.stmt.userById.get(id)
        if (row !== undefined && isEnabledAdmin(toUser(row))) this.keepAnAdmin(toUser(row))
      }
      // api_keys rows go with it: ON DELETE CASCADE, in this same transaction.
      deleted = this.stmt.deleteUser.run(id).changes > 0
      return deleted ? [{ type: 'user', userId: id }] : []
    })
    return deleted
  }

  /** Throws errors.LastAdmin unless an enabled admin other than `user` exists (call within write()). */
  private keepAnAdmin (user: User): void {
    if (this.stmt.otherEnabledAdmin.get(user.id) === undefined) throw new errors.LastAdmin(user.email === '' ? user.name : user.email)
  }

  async createKey (record: ApiKeyRecord, limits?: KeyLimits): Promise<void> {
    const max = maxKeysOf(limits)
    this.write('createKey', () => {
      if (this.stmt.userById.get(record.userId) === undefined) {
        throw new Error(`createKey: owner user "${record.userId}" does not exist`)
      }
      if (this.stmt.keyById.get(record.id) !== undefined) throw new StoreConflictError(`An API key with id "${record.id}" already exists`, 'id')
      // Counted inside the IMMEDIATE transaction: it holds the write lock, so no other create (in
      // this process or another, e.g. the CLI) can insert between this count and the insert.
      if (max !== null && (this.stmt.countKeys.get(record.userId) ?? 0) >= max) throw new errors.KeyLimitReached(max)
      this.stmt.insertKey.run({
        id: record.id,
        user_id: record.userId,
        name: record.name,
        description: record.description,
        mcp_server_ids: JSON.stringify(record.mcpServerIds),
        scopes: record.scopes === null || record.scopes === undefined ? null : JSON.stringify(record.scopes),
        secret_generation: record.secretGeneration ?? null,
        rotated_at: record.rotatedAt ?? null,
        previous_secret_hash: record.previousSecretHash ?? null,
        previous_until: record.previousUntil ?? null,
        limits: record.limits === undefined ? null : JSON.stringify(record.limits),
        oauth: record.oauth === undefined ? null : JSON.stringify(record.oauth),
        created_at: record.createdAt,
        expires_at: record.expiresAt,
        last_used_at: record.lastUsedAt,
        secret_hash: record.secretHash
      })
      return []
    })
  }

  async getKey (id: string): Promise<ApiKeyRecord | null> {
    const row = this.read('getKey', () => this.stmt.keyById.get(id))
    return row === undefined ? null : toKey(row)
  }

  async getKeyWithOwner (id: string): Promise<{ key: ApiKeyRecord, owner: User } | null> {
    const row = this.read('getKeyWithOwner', () => this.stmt.keyWithOwner.get(id))
    return row === undefined ? null : { key: toKey(row), owner: ownerOf(row) }
  }

  async listKeys (page: PageRequest & { userId?: string }): Promise<Page<ApiKeyRecord>> {
    const { limit, after } = checkPageRequest(page)
    const userId = page.userId
    const rows = this.read('listKeys', () => {
      if (userId === undefined) {
        return after === null
          ? this.stmt.keysFirst.all(limit + 1)
          : this.stmt.keysAfter.all(after.createdAt, after.id, limit + 1)
      }
      return after === null
        ? this.stmt.userKeysFirst.all(userId, limit + 1)
        : this.stmt.userKeysAfter.all(userId, after.createdAt, after.id, limit + 1)
    })
    return pageOf(rows.map(toKey), limit)
  }

  async countKeys (userId: string): Promise<number> {
    return this.read('countKeys', () => this.stmt.countKeys.get(userId) ?? 0)
  }

  async takeTokens (bucket: string, limit: number, want: number, expiresAt: number): Promise<number> {
    const now = this.clock.now()
    let granted = 0
    this.write('takeTokens', () => {
      this.stmt.pruneTokens.run(now)
      const used = this.stmt.tokensUsed.get(bucket, now) ?? 0
      granted = Math.max(0, Math.min(want, limit - used))
      if (granted > 0) this.stmt.upsertTokens.run(bucket, used + granted, expiresAt)
      return []
    })
    return granted
  }

  async tokensUsed (buckets: readonly string[]): Promise<number[]> {
    const now = this.clock.now()
    return this.read('tokensUsed', () => buckets.map(b => this.stmt.tokensUsed.get(b, now) ?? 0))
  }

  async announceReplica (id: string, now: number, ttlMs: number): Promise<number> {
    let count = 1
    this.write('announceReplica', () => {
      this.stmt.seenReplica.run(id, now)
      this.stmt.pruneReplicas.run(now - ttlMs)
      count = this.stmt.countReplicas.get() ?? 1
      return []
    })
    return count
  }

  async rotateKey (id: string, secretHash: string, previousUntil: number, now: number): Promise<ApiKeyRecord | null> {
    let rotated: ApiKeyRecord | null = null
    this.write('rotateKey', () => {
      const row = this.stmt.keyById.get(id)
      if (row === undefined) return []
      const keep = previousUntil > now
      this.stmt.rotateKey.run(secretHash, (row.secret_generation ?? 0) + 1, now, keep ? row.secret_hash : null, keep ? previousUntil : null, id)
      rotated = toKey(this.stmt.keyById.get(id) as KeyRow)
      return [{ type: 'key', keyId: id }]
    })
    return rotated
  }

  async deleteKey (id: string): Promise<ApiKeyRecord | null> {
    let deleted: ApiKeyRecord | null = null
    this.write('deleteKey', () => {
      const row = this.stmt.keyById.get(id)
      if (row === undefined) return []
      this.stmt.deleteKey.run(id)
      deleted = toKey(row)
      return [{ type: 'key', keyId: id }]
    })
    return deleted
  }

  async recordLastUsed (entries: ReadonlyMap<string, number>): Promise<void> {
    if (entries.size === 0) return
    // UPDATE only: a key deleted since it was used has no row to resurrect. In chunks of
    // LAST_USED_CHUNK rows per transaction, yielding to the event loop between them: better-sqlite3
    // is synchronous, and 10,000 rows in one go held every request for tens of milliseconds.
    const all = [...entries]
    for (let i = 0; i < all.length; i += LAST_USED_CHUNK) {
      if (i > 0) await new Promise<void>(resolve => setImmediate(resolve))
      const chunk = all.slice(i, i + LAST_USED_CHUNK)
      this.write('recordLastUsed', () => {
        for (const [id, at] of chunk) this.stmt.touchKey.run(at, id)
        return []
      })
    }
  }

  async bindSession (id: string, keyId: string, ttlMs: number): Promise<string> {
    const now = this.clock.now()
    let owner = keyId
    this.write('bindSession', () => {
      // Expired bindings go a hundred at a time as new ones come: the table stays as large as
      // the sessions in use.
      this.stmt.pruneSessions.run(now)
      this.stmt.bindSession.run(id, keyId, now + ttlMs, now)
      owner = this.stmt.sessionOwner.get(id, now) ?? keyId
      return []
    })
    return owner
  }

  async getSession (id: string, ttlMs: number): Promise<string | null> {
    const now = this.clock.now()
    const owner = this.read('getSession', () => this.stmt.sessionOwner.get(id, now)) ?? null
    // The TTL restarts at most once per read that finds it; writes queue behind other writers,
    // so a failure here must not fail the check.
    if (owner !== null) {
      try {
        this.write('getSession', () => { this.stmt.touchSession.run(now + ttlMs, id, now); return [] })
      } catch {}
    }
    return owner
  }

  async touchSession (id: string, ttlMs: number): Promise<void> {
    const now = this.clock.now()
    this.write('touchSession', () => { this.stmt.touchSession.run(now + ttlMs, id, now); return [] })
  }

  async deleteSession (id: string): Promise<void> {
    this.write('deleteSession', () => { this.stmt.deleteSession.run(id); return [] })
  }

  async putRecord (name: string, value: string, ttlMs: number | null): Promise<void> {
    const expiresAt = ttlMs === null ? null : this.clock.now() + ttlMs
    this.write('putRecord', () => {
      this.db.prepare('INSERT INTO records (name, value, expires_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at')
        .run(name, value, expiresAt)
      this.pruneRecords()
      return []
    })
  }

  async putRecordIfAbsent (name: string, value: string, ttlMs: number | null): Promise<string> {
    const now = this.clock.now()
    let stored = value
    this.write('putRecordIfAbsent', () => {
      const found = this.db.prepare<[string, number], string>('SELECT value FROM records WHERE name = ? AND (expires_at IS NULL OR expires_at > ?)').pluck().get(name, now)
      if (found !== undefined) {
        stored = found
        return []
      }
      this.db.prepare('INSERT INTO records (name, value, expires_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at')
        .run(name, value, ttlMs === null ? null : now + ttlMs)
      return []
    })
    return stored
  }

  async getRecord (name: string): Promise<string | null> {
    const now = this.clock.now()
    const found = this.read('getRecord', () => this.db.prepare<[string, number], string>('SELECT value FROM records WHERE name = ? AND (expires_at IS NULL OR expires_at > ?)').pluck().get(name, now))
    return found ?? null
  }

  async deleteRecords (names: readonly string[]): Promise<void> {
    if (names.length === 0) return
    this.write('deleteRecords', () => {
      const records = this.db.prepare('DELETE FROM records WHERE name = ?')
      const sets = this.db.prepare('DELETE FROM record_sets WHERE name = ?')
      for (const name of names) {
        records.run(name)
        sets.run(name)
      }
      return []
    })
  }

  async addToRecordSet (set: string, member: string, ttlMs: number): Promise<void> {
    const expiresAt = this.clock.now() + ttlMs
    this.write('addToRecordSet', () => {
      // The whole set lives on from its latest write, as a Redis key's TTL does.
      this.db.prepare('UPDATE record_sets SET expires_at = ? WHERE name = ?').run(expiresAt, set)
      this.db.prepare('INSERT INTO record_sets (name, member, expires_at) VALUES (?, ?, ?) ON CONFLICT (name, member) DO UPDATE SET expires_at = excluded.expires_at')
        .run(set, member, expiresAt)
      return []
    })
  }

  async recordSetMembers (set: string): Promise<string[]> {
    const now = this.clock.now()
    return this.read('recordSetMembers', () => this.db.prepare<[string, number], string>('SELECT member FROM record_sets WHERE name = ? AND expires_at > ? ORDER BY member').pluck().all(set, now))
  }

  /** A few expired rows per write (within write()): expired records are never read, this bounds the file. */
  private pruneRecords (): void {
    const now = this.clock.now()
    this.db.prepare('DELETE FROM records WHERE name IN (SELECT name FROM records WHERE expires_at IS NOT NULL AND expires_at <= ? LIMIT 20)').run(now)
    this.db.prepare('DELETE FROM record_sets WHERE rowid IN (SELECT rowid FROM record_sets WHERE expires_at <= ? LIMIT 20)').run(now)
  }

  /** `batchId` is not needed here: a transaction that failed wrote nothing. */
  async appendAudit (events: readonly AuditEvent[], retention: AuditRetention): Promise<void> {
    if (events.length === 0) return
    this.write('appendAudit', () => {
      // AUDIT_ROWS rows per statement (a fifth less work per event than one row each), the values
      // passed as arguments (better-sqlite3 reads an array's elements one API call each).
      let i = 0
      for (; i + AUDIT_ROWS <= events.length; i += AUDIT_ROWS) this.stmt.insertAuditRows.run(...auditRows(events, i, AUDIT_ROWS))
      for (; i < events.length; i++) this.stmt.insertAudit.run(...auditRows(events, i, 1))
      // Retention with each batch: by age (indexed), then by count.
      this.stmt.pruneAuditByAge.run(retention.olderThan)
      this.stmt.pruneAuditByCount.run(retention.maxEvents)
      return []
    })
  }

  async listAudit (query: AuditQuery): Promise<AuditPage> {
    const where: string[] = []
    const args: Array<string | number> = []
    const cursor = query.cursor === null || query.cursor === undefined ? null : Number(query.cursor)
    if (cursor !== null && !Number.isSafeInteger(cursor)) throw new TypeError('invalid page cursor: pass back the nextCursor of a previous page')
    if (cursor !== null) { where.push('seq < ?'); args.push(cursor) }
    if (query.keyId !== undefined) { where.push('key_id = ?'); args.push(query.keyId) }
    if (query.keyIds !== undefined) {
      if (query.keyIds.length === 0) return { items: [], nextCursor: null }
      where.push(`key_id IN (${query.keyIds.map(() => '?').join(', ')})`)
      args.push(...query.keyIds)
    }
    if (query.userId !== undefined) { where.push('user_id = ?'); args.push(query.userId) }
    if (query.serverId !== undefined) { where.push('server_id = ?'); args.push(query.serverId) }
    if (query.name !== undefined) { where.push('name = ?'); args.push(query.name) }
    if (query.outcome !== undefined) { where.push('outcome = ?'); args.push(query.outcome) }
    if (query.since !== undefined) { where.push('at >= ?'); args.push(query.since) }
    if (query.until !== undefined) { where.push('at < ?'); args.push(query.until) }
    const sql = `SELECT seq, at, key_id, user_id, server_id, method, name, outcome, event FROM audit_events ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`} ORDER BY seq DESC LIMIT ?`
    const rows = this.read('listAudit', () => this.db.prepare<Array<string | number>, AuditRow>(sql).all(...args, query.limit + 1))
    const items = rows.slice(0, query.limit).map(auditEventOf)
    return { items, nextCursor: rows.length > query.limit ? String(rows[query.limit - 1]?.seq) : null }
  }

  async keyUsage (keyId: string, since: number, until: number): Promise<KeyUsage> {
    return this.read('keyUsage', () => {
      const hours = new Map<number, { calls: number, denied: number, errors: number }>()
      for (const r of this.stmt.usageHours.all(keyId, since, until)) hours.set(r.hour, { calls: r.calls, denied: r.denied, errors: r.errors })
      const topTools = this.stmt.usageTools.all(keyId, since, until)
      const last = this.stmt.usageLast.get(keyId)
      const e = last === undefined ? null : JSON.parse(last.event) as AuditEvent
      return { ...bucketsFrom(hours, since, until), topTools, lastUsed: last === undefined || e === null ? null : { time: last.at, ip: e.ip, userAgent: e.userAgent ?? null } }
    })
  }

  async publish (event: InvalidationEvent): Promise<void> {
    this.write('publish', () => [event])
  }

  subscribe (listener: InvalidationListener): () => void {
    if (this.closed) throw new StoreUnavailableError('sqlite store is closed')
    if (this.timer === null) {
      this.lastSeenId = this.read('subscribe', () => this.stmt.lastEventId.get() ?? 0)
      this.lastDataVersion = this.read('subscribe', () => this.stmt.dataVersion.get() ?? 0)
      this.ownIds.clear()
      this.timer = setInterval(() => this.poll(), this.pollMs)
      this.timer.unref()
    }
    this.listeners.add(listener)
    // Events before this point were never seen by this listener: it must treat its state as stale.
    notifySafely(() => listener.onResync())
    return () => {
      this.listeners.delete(listener)
      if (this.listeners.size === 0) this.stopPolling()
    }
  }

  /** The page cache SQLite applies to this connection (KiB). */
  get cacheKiB (): number {
    return -(this.db.pragma('cache_size', { simple: true }) as number)
  }

  isSubscribed (): boolean {
    return this.timer !== null && !this.closed
  }

  async ping (): Promise<void> {
    this.read('ping', () => this.stmt.ping.get())
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.stopPolling()
    this.listeners.clear()
    this.db.close()
  }

  private stopPolling (): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }

  private read<T> (operation: string, fn: () => T): T {
    const started = callStart()
    if (this.closed) {
      publishCall(this, operation, started, true)
      throw new StoreUnavailableError('sqlite store is closed')
    }
    try {
      const result = fn()
      publishCall(this, operation, started, false)
      return result
    } catch (err) {
      publishCall(this, operation, started, true)
      rethrow(err)
    }
  }

  /**
   * One IMMEDIATE transaction (the write lock up front, so concurrent writers queue on
   * busy_timeout instead of failing to upgrade); the events it returns are logged in the same
   * transaction and delivered in-process right after commit.
   */
  private write (operation: string, fn: () => InvalidationEvent[]): void {
    const started = callStart()
    if (this.closed) {
      publishCall(this, operation, started, true)
      throw new StoreUnavailableError('sqlite store is closed')
    }
    const now = this.clock.now()
    let logged: Array<{ id: number, event: InvalidationEvent }> = []
    const tx = this.db.transaction(() => {
      logged = []
      for (const event of fn()) {
        const id = Number(this.stmt.insertEvent.run(serializeInvalidation(event), now).lastInsertRowid)
        logged.push({ id, event })
      }
      if (logged.length > 0 && now - this.lastPruneAt >= PRUNE_EVERY_MS) {
        this.stmt.pruneEvents.run(now - LOG_RETENTION_MS)
        this.lastPruneAt = now
      }
    })
    try {
      tx.immediate()
    } catch (err) {
      publishCall(this, operation, started, true)
      rethrow(err)
    }
    publishCall(this, operation, started, false)
    if (this.timer === null) return
    for (const { id, event } of logged) {
      // With no foreign rows pending, just move past ours; otherwise the poll must skip it.
      if (id === this.lastSeenId + 1) this.lastSeenId = id
      else this.ownIds.add(id)
      this.deliver(event)
    }
  }

  private poll (): void {
    if (this.closed) return
    try {
      // data_version changes only for commits by other connections, so our own writes
      // (already delivered) never wake the poll.
      const version = this.stmt.dataVersion.get() ?? 0
      this.pollFailing = false
      if (version === this.lastDataVersion) return
      this.lastDataVersion = version
      const rows = this.stmt.eventsAfter.all(this.lastSeenId)
      // AUTOINCREMENT ids have no gaps except pruned rows: a gap means we missed events.
      const missed = rows.length > 0 && (rows[0] as LogRow).id !== this.lastSeenId + 1
      for (const row of rows) {
        this.lastSeenId = row.id
        if (this.ownIds.delete(row.id)) continue
        const event = parseInvalidation(row.event) ?? { type: 'all' }
        this.deliver(event)
      }
      if (missed) for (const listener of this.listeners) notifySafely(() => listener.onResync())
    } catch (err) {
      // A locked or vanished file: try again next tick (warn once, not every 25 ms).
      if (!this.pollFailing) process.emitWarning(`mcpgate sqlite store: invalidation poll failed: ${err instanceof Error ? err.message : String(err)}`)
      this.pollFailing = true
    }
  }

  private deliver (event: InvalidationEvent): void {
    for (const listener of this.listeners) notifySafely(() => listener.onEvent(event))
  }
}
