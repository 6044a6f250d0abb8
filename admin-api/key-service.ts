// The one key and user service: every rule about creating, listing and deleting API keys and
// users lives here, shared by the REST routes and the CLI (so nothing here knows about HTTP).
// Expected failures are thrown as the typed errors of core/errors.ts; results are public views
// that can never carry a secret hash.
import { limitsProblem, limitStatus, type LimitsSubject, type LimitStatus, type RateLimits } from '../core/limits.ts'
import type { Static } from '@fastify/type-provider-typebox'
import type { Config, ServerConfig } from '../config/schema.ts'
import { scopeIncludes, userCanReach, type AccessSubject } from '../core/access.ts'
import { systemClock, type Clock } from '../core/clock.ts'
import { parseEmail } from '../core/email.ts'
import { errors, StoreConflictError } from '../core/errors.ts'
import { hashSecret } from '../core/hashing.ts'
import { generateKey, isValidKeyId, isValidUserId } from '../core/key-format.ts'
import { ownerRule, parseKeyScopes, type KeyScopes, type ScopeRule } from '../core/tool-scope.ts'
import { decodeKeyCursor, type ApiKeyRecord, type KeyStore, type OAuthGrantInfo, type Page, type Role, type User, type UserKind, type UserPatch } from '../core/store/store.ts'
import {
  DESCRIPTION_MAX, GROUP_MAX, GROUPS_MAX, NAME_MAX, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX, USER_NAME_MAX,
  type AdminApiKeyView, type ApiKeyView, type McpServerView, type NewKeyBody, type NewUserBody, type UserView
} from './schemas.ts'

const DAY_MS = 86_400_000

// The results are the admin API's wire types (ApiKeyView, UserView…: admin-api/schemas.ts, one
// source for the routes, the OpenAPI document and the console), so they cannot carry a hash.

export interface CreatedKey {
  record: ApiKeyView
  /** The full key. Returned here once and never again: only its hash is stored. */
  key: string
}

/** `expiresAt`: RFC 3339 with a time zone, or null/absent for a key that never expires. */
export type NewKeyInput = Static<typeof NewKeyBody>

/** The REST body, and an `id` the CLI and tests may choose. */
export type NewUserInput = Static<typeof NewUserBody> & { id?: string }

export interface PageInput {
  limit?: number
  cursor?: string | null
}

function iso (ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString()
}

/** A deep copy: views never share arrays with a record (or the gateway's frozen cache entries). */
function scopesView (scopes: KeyScopes): KeyScopes {
  const out: KeyScopes = {}
  for (const [id, rule] of Object.entries(scopes)) {
    out[id] = {
      ...(rule.tools === undefined ? {} : { tools: [...rule.tools] }),
      ...(rule.resources === undefined ? {} : { resources: [...rule.resources] }),
      ...(rule.prompts === undefined ? {} : { prompts: [...rule.prompts] })
    }
  }
  return out
}

export function keyView (record: ApiKeyRecord): ApiKeyView {
  return {
    id: record.id,
    userId: record.userId,
    name: record.name,
    description: record.description,
    mcpServerIds: [...record.mcpServerIds],
    // Absent when the key reaches whole servers.
    ...(record.scopes === null || record.scopes === undefined ? {} : { scopes: scopesView(record.scopes) }),
    ...(record.limits === undefined ? {} : { limits: { ...record.limits } }),
    createdAt: new Date(record.createdAt).toISOString(),
    expiresAt: iso(record.expiresAt),
    lastUsedAt: iso(record.lastUsedAt),
    ...(record.rotatedAt === undefined ? {} : { rotatedAt: new Date(record.rotatedAt).toISOString() }),
    ...(record.secretGeneration === undefined || record.secretGeneration === 0 ? {} : { secretGeneration: record.secretGeneration }),
    ...(record.previousUntil === undefined ? {} : { previousSecretValidUntil: new Date(record.previousUntil).toISOString() }),
    ...(record.oauth === undefined ? {} : { oauth: { ...record.oauth } })
  }
}

/**
 * The admin group that makes `user` an admin (admin-api/principal.ts: each sign-in whose token
 * carries the groups claim sets the role from it), or null: the role is the API's to change.
 */
export function adminGroupOf (user: Pick<User, 'role' | 'groups'>, adminGroups: readonly string[]): string | null {
  if (user.role !== 'admin') return null
  return user.groups.find(g => adminGroups.includes(g)) ?? null
}

/** `adminGroups`: config.admin.oidc.adminGroups (none without OIDC). */
export function userView (user: User, adminGroups: readonly string[]): UserView {
  return {
    id: user.id,
    kind: user.kind,
    email: user.email,
    name: user.name,
    role: user.role,
    roleFromGroups: adminGroupOf(user, adminGroups) !== null,
    groups: [...user.groups],
    disabled: user.disabled,
    createdAt: new Date(user.createdAt).toISOString()
  }
}

function invalid (field: string, problem: string): Error {
  return new errors.ValidationFailed(`${field}: ${problem}`)
}

// RFC 3339 §5.6 date-time; a zone is required so "2026-01-01T00:00" cannot mean different
// instants on different machines.
const RFC3339 = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$/

export function parseRfc3339 (value: string): number | null {
  if (!RFC3339.test(value)) return null
  const ms = Date.parse(value)
  return Number.isFinite(ms) ? ms : null
}

/** The stored form of an email (core/email.ts holds the rule), or a 400 naming `email`. */
export function normalizeEmail (value: string): string {
  const parsed = parseEmail(value)
  if (!parsed.ok) throw invalid('email', parsed.problem)
  return parsed.email
}

function cleanName (field: string, value: string, max: number): string {
  const name = value.trim()
  if (name.length < 1 || name.length > max) throw invalid(field, `must be 1-${max} characters (after trimming)`)
  return name
}

function cleanGroups (value: readonly string[]): string[] {
  if (value.length > GROUPS_MAX) throw invalid('groups', `at most ${GROUPS_MAX} groups`)
  const out: string[] = []
  for (const g of value) {
    if (typeof g !== 'string' || g.length < 1 || g.length > GROUP_MAX) throw invalid('groups', `each group must be 1-${GROUP_MAX} characters`)
    if (!out.includes(g)) out.push(g)
  }
  return out
}

function cleanRole (value: unknown): Role {
  if (value !== 'admin' && value !== 'user') throw invalid('role', 'must be "admin" or "user"')
  return value
}

function pageLimit (limit: number | undefined): number {
  if (limit === undefined) return PAGE_LIMIT_DEFAULT
  if (!Number.isInteger(limit) || limit < 1 || limit > PAGE_LIMIT_MAX) throw invalid('limit', `must be an integer from 1 to ${PAGE_LIMIT_MAX}`)
  return limit
}

export interface KeyServiceOptions {
  store: KeyStore
  config: Readonly<Config>
  clock?: Clock
}

export type KeyService = ReturnType<typeof createKeyService>

export function createKeyService ({ store, config, clock = systemClock }: KeyServiceOptions) {
  // Replaced whole by reloadServers() (SIGHUP): a reload never shows a half-applied list.
  let servers = new Map(config.servers.map(s => [s.id, s]))
  const adminGroups = config.admin.oidc?.adminGroups ?? []
  const view = (user: User): UserView => userView(user, adminGroups)

  async function requireUser (id: string): Promise<User> {
    const user = isValidUserId(id) ? await store.getUser(id) : null
    if (user === null) throw new errors.UserNotFound(id)
    return user
  }

  function validateExpiry (value: string | null | undefined): number | null {
    const maxDays = config.admin.maxKeyLifetimeDays
    if (value === undefined || value === null) {
      if (maxDays !== undefined) throw invalid('expiresAt', `required: keys must expire within ${maxDays} days`)
      return null
    }
    if (typeof value !== 'string') throw invalid('expiresAt', 'must be an RFC 3339 date-time string or null')
    const ms = parseRfc3339(value)
    if (ms === null) throw invalid('expiresAt', 'must be an RFC 3339 date-time with a time zone, e.g. 2030-01-31T00:00:00Z')
    const now = clock.now()
    if (ms <= now) throw invalid('expiresAt', 'must be in the future')
    if (maxDays !== undefined && ms > now + maxDays * DAY_MS) throw invalid('expiresAt', `must be within ${maxDays} days from now`)
    return ms
  }

  /** Deduplicated scope; every id must exist and be reachable by the owner. */
  function validateScope (value: readonly string[], owner: AccessSubject): string[] {
    if (!Array.isArray(value) || value.length === 0) throw invalid('mcpServerIds', 'must list at least one MCP server id, or "*"')
    const ids: string[] = []
    for (const id of value) {
      if (typeof id !== 'string') throw invalid('mcpServerIds', 'must be strings')
      if (!ids.includes(id)) ids.push(id)
    }
    if (ids.includes('*')) {
      if (ids.length > 1) throw invalid('mcpServerIds', '"*" (every server the owner can reach) must be the only entry')
      return ids
    }
    for (const id of ids) {
      const server = servers.get(id)
      // Missing and unreachable answer alike, so the form cannot be used to discover servers.
      if (server === undefined || !userCanReach(server.access, owner)) throw new errors.McpServerNotFound(id)
    }
    return ids
  }

  /**
   * Per-tool scopes (core/tool-scope.ts parseKeyScopes, the CLI's and the console's check too):
   * each server id must be one of the key's servers, or with ["*"] one the owner can reach now.
   */
  function validateScopes (value: unknown, mcpServerIds: readonly string[], owner: AccessSubject): KeyScopes | null {
    const everyServer = mcpServerIds[0] === '*'
    const parsed = parseKeyScopes(value, id => {
      const server = servers.get(id)
      // As for mcpServerIds: missing and unreachable answer alike.
      if (server === undefined || !userCanReach(server.access, owner)) return `MCP server "${id}" not found`
      if (!everyServer && !mcpServerIds.includes(id)) return `not one of the key's mcpServerIds (${mcpServerIds.join(', ')}); add it there, or use "*" for a rule on every server of the key`
      return null
    })
    if (!parsed.ok) throw invalid(parsed.field, parsed.problem)
    return parsed.scopes
  }

  /** A key's own limits, checked for every caller (the CLI too); null: none (`{}` is none). */
  function validateLimits (value: unknown): RateLimits | null {
    if (value === undefined || value === null) return null
    const problem = limitsProblem(value)
    if (problem !== null) throw invalid(problem.field, problem.problem)
    const limits = value as RateLimits
    return Object.keys(limits).length === 0 ? null : { ...limits }
  }

  async function createKey (ownerUserId: string, input: NewKeyInput): Promise<CreatedKey> {
    const owner = await requireUser(ownerUserId)
    const name = cleanName('name', String(input.name ?? ''), NAME_MAX)
    const description = (input.description ?? '').trim()
    if (description.length > DESCRIPTION_MAX) throw invalid('description', `must be at most ${DESCRIPTION_MAX} characters`)
    const expiresAt = validateExpiry(input.expiresAt)
    const mcpServerIds = validateScope(input.mcpServerIds, owner)
    const scopes = validateScopes(input.scopes, mcpServerIds, owner)
    const limits = validateLimits(input.limits)
    // A cheap early refusal before ~25 ms of argon2. Concurrent creates can all pass this count,
    // so it is not the final word: the store counts again atomically with the insert below.
    const max = config.admin.maxKeysPerUser
    if (await store.countKeys(owner.id) >= max) throw new errors.KeyLimitReached(max)
    const generated = generateKey(owner.id)
    const record: ApiKeyRecord = {
      id: generated.keyId,
      userId: owner.id,
      name,
      description,
      mcpServerIds,
      ...(scopes === null ? {} : { scopes }),
      ...(limits === null ? {} : { limits }),
      createdAt: clock.now(),
      expiresAt,
      lastUsedAt: null,
      secretHash: await hashSecret(generated.secret, config.hashing)
    }
    await store.createKey(record, { maxKeysPerUser: max })
    return { record: keyView(record), key: generated.key }
  }

  /**
   * An OAuth grant (admin-api/oauth/): a key record whose secret nobody ever sees (a random one is
   * hashed and forgotten; the grant's access tokens name the record's id instead), its servers and
   * tools checked as a new key's are, named after its client, expiring with the grant.
   */
  async function createGrant (ownerUserId: string, input: { oauth: OAuthGrantInfo, mcpServerIds: string[], scopes?: unknown, expiresAt: number }): Promise<ApiKeyRecord> {
    const owner = await requireUser(ownerUserId)
    if (owner.disabled) throw new errors.UserDisabled()
    const mcpServerIds = validateScope(input.mcpServerIds, owner)
    const scopes = validateScopes(input.scopes, mcpServerIds, owner)
    const max = config.admin.maxKeysPerUser
    const generated = generateKey(owner.id)
    const record: ApiKeyRecord = {
      id: generated.keyId,
      userId: owner.id,
      name: `OAuth · ${input.oauth.clientName}`.slice(0, NAME_MAX).trim(),
      description: `Granted to ${input.oauth.clientName} (${input.oauth.redirectHost}) through OAuth`.slice(0, DESCRIPTION_MAX),
      mcpServerIds,
      ...(scopes === null ? {} : { scopes }),
      createdAt: clock.now(),
      expiresAt: input.expiresAt,
      lastUsedAt: null,
      secretHash: await hashSecret(generated.secret, config.hashing),
      oauth: { ...input.oauth }
    }
    await store.createKey(record, { maxKeysPerUser: max })
    return record
  }

  /** Both pages (keys and users) use the store's `createdAt.id` cursors. */
  function keyCursor (cursor: string | null | undefined): string | null {
    if (cursor === undefined || cursor === null || cursor === '') return null
    if (decodeKeyCursor(cursor) === null) throw invalid('cursor', 'is not a cursor returned by this API')
    return cursor
  }

  /** Newest first. `userId` limits the page to one owner (own keys, or an admin's filter). */
  async function listKeys (query: PageInput & { userId?: string }): Promise<Page<ApiKeyView>> {
    const limit = pageLimit(query.limit)
    const cursor = keyCursor(query.cursor)
    if (query.userId !== undefined && !isValidUserId(query.userId)) return { items: [], nextCursor: null }
    const page = await store.listKeys({ limit, cursor, ...(query.userId === undefined ? {} : { userId: query.userId }) })
    return { items: page.items.map(keyView), nextCursor: page.nextCursor }
  }

  /** Every key with its owner's id, email and name (admin listing). */
  async function listKeysWithOwners (query: PageInput & { userId?: string }): Promise<Page<AdminApiKeyView>> {
    const limit = pageLimit(query.limit)
    const cursor = keyCursor(query.cursor)
    if (query.userId !== undefined && !isValidUserId(query.userId)) return { items: [], nextCursor: null }
    const page = await store.listKeys({ limit, cursor, ...(query.userId === undefined ? {} : { userId: query.userId }) })
    const owners = new Map<string, User | null>()
    const items: AdminApiKeyView[] = []
    for (const record of page.items) {
      if (!owners.has(record.userId)) owners.set(record.userId, await store.getUser(record.userId))
      const owner = owners.get(record.userId)
      // A key whose owner vanished between the two reads is being deleted with its owner.
      if (owner === null || owner === undefined) continue
      items.push({ ...keyView(record), user: { id: owner.id, kind: owner.kind, email: owner.email, name: owner.name } })
    }
    return { items, nextCursor: page.nextCursor }
  }

  /**
   * With `ownerId`, a key of someone else answers exactly like a missing one (no BOLA oracle:
   * same status, same message, same store work).
   */
  async function findKey (id: string, ownerId: string | undefined): Promise<ApiKeyRecord> {
    const record = isValidKeyId(id) ? await store.getKey(id) : null
    if (record === null || (ownerId !== undefined && record.userId !== ownerId)) throw new errors.ApiKeyNotFound(id)
    return record
  }

  async function getKey (id: string, opts: { ownerId?: string } = {}): Promise<ApiKeyView> {
    return keyView(await findKey(id, opts.ownerId))
  }

  async function getKeyWithOwner (id: string): Promise<AdminApiKeyView> {
    const record = await findKey(id, undefined)
    const owner = await store.getUser(record.userId)
    if (owner === null) throw new errors.ApiKeyNotFound(id)
    return { ...keyView(record), user: { id: owner.id, kind: owner.kind, email: owner.email, name: owner.name } }
  }

  /** The store publishes the invalidation event itself; publishing here too would double it. */
  async function deleteKey (id: string, opts: { ownerId?: string } = {}): Promise<ApiKeyView> {
    await findKey(id, opts.ownerId)
    const deleted = await store.deleteKey(id)
    if (deleted === null) throw new errors.ApiKeyNotFound(id)
    return keyView(deleted)
  }

  /**
   * A new secret for the same key id (the full key shown once, as at creation); the old one keeps
   * working for the overlap (admin.rotationOverlapSeconds unless given; never past expiresAt).
   */
  async function rotateKey (id: string, opts: { ownerId?: string, overlapSeconds?: number } = {}): Promise<CreatedKey> {
    const record = await findKey(id, opts.ownerId)
    // A grant's secret would become an API key nobody consented to.
    if (record.oauth !== undefined) throw new errors.OAuthGrantNotRotatable(id)
    const overlap = opts.overlapSeconds ?? config.admin.rotationOverlapSeconds
    if (!Number.isInteger(overlap) || overlap < 0) throw invalid('overlapSeconds', 'must be a non-negative integer')
    const now = clock.now()
    const previousUntil = Math.min(now + overlap * 1000, record.expiresAt ?? Infinity)
    const generated = generateKey(record.userId, record.id)
    const rotated = await store.rotateKey(record.id, await hashSecret(generated.secret, config.hashing), previousUntil, now)
    if (rotated === null) throw new errors.ApiKeyNotFound(id)
    return { record: keyView(rotated), key: generated.key }
  }

  async function createUser (input: NewUserInput): Promise<UserView> {
    if (input.id !== undefined && !isValidUserId(input.id)) throw invalid('id', 'must be 1-32 letters or digits')
    const kind = input.kind ?? 'human'
    if (kind !== 'human' && kind !== 'service') throw invalid('kind', 'must be "human" or "service"')
    const service = kind === 'service'
    // A service account's email is optional (an address for notices about it, say): it never
    // signs in, so nothing is matched by it but the access rules' `users`.
    if (input.email === undefined && !service) throw invalid('email', 'is required (only a service account may have none)')
    const email = input.email === undefined ? '' : normalizeEmail(String(input.email))
    if (input.name === undefined && email === '') throw invalid('name', 'is required for a service account without an email')
    const name = input.name === undefined ? email : cleanName('name', String(input.name), USER_NAME_MAX)
    const role = input.role === undefined ? 'user' : cleanRole(input.role)
    if (service && role === 'admin') throw invalid('role', 'a service account cannot be an admin (it never signs in); give it groups')
    const groups = cleanGroups(input.groups ?? [])
    if (email !== '' && await store.getUserByEmail(email) !== null) throw new errors.EmailTaken(email)
    try {
      const user = await store.createUser({
        ...(input.id === undefined ? {} : { id: input.id }),
        kind,
        email,
        name,
        role,
        groups,
        disabled: input.disabled === true
      })
      return view(user)
    } catch (err) {
      // Lost a race with another create of the same email (or id).
      if (err instanceof StoreConflictError) throw err.field === 'email' ? new errors.EmailTaken(email) : invalid('id', 'a user with this id already exists')
      throw err
    }
  }

  async function listUsers (query: PageInput & { kind?: UserKind } = {}): Promise<Page<UserView>> {
    const limit = pageLimit(query.limit)
    if (query.kind !== undefined && query.kind !== 'human' && query.kind !== 'service') throw invalid('kind', 'must be "human" or "service"')
    const page = await store.listUsers({ limit, cursor: keyCursor(query.cursor), ...(query.kind === undefined ? {} : { kind: query.kind }) })
    return { items: page.items.map(view), nextCursor: page.nextCursor }
  }

  async function getUser (id: string): Promise<UserView> {
    return view(await requireUser(id))
  }

  async function getUserByEmail (email: string): Promise<UserView> {
    const normalized = normalizeEmail(email)
    const user = await store.getUserByEmail(normalized)
    if (user === null) throw new errors.UserNotFound(normalized)
    return view(user)
  }

  /** The store publishes `{type:'user'}` so every gateway re-reads the user's access at once. */
  async function updateUser (id: string, patch: UserPatch): Promise<UserView> {
    const clean: UserPatch = {}
    if (patch.name !== undefined) clean.name = cleanName('name', String(patch.name), USER_NAME_MAX)
    if (patch.role !== undefined) clean.role = cleanRole(patch.role)
    if (patch.groups !== undefined) clean.groups = cleanGroups(patch.groups)
    if (patch.disabled !== undefined) {
      if (typeof patch.disabled !== 'boolean') throw invalid('disabled', 'must be true or false')
      clean.disabled = patch.disabled
    }
    if (Object.keys(clean).length === 0) throw invalid('(body)', 'nothing to change: give name, role, groups or disabled')
    if (clean.role !== undefined) {
      const user = isValidUserId(id) ? await store.getUser(id) : null
      if (clean.role === 'admin' && user?.kind === 'service') throw invalid('role', 'a service account cannot be an admin (it never signs in); give it groups')
      // The IdP's groups decide this role: a demotion here would be undone at the next sign-in.
      const group = clean.role === 'user' && user !== null ? adminGroupOf(user, adminGroups) : null
      if (group !== null && user !== null) throw new errors.RoleFromIdpGroup(user.email, group)
    }
    // The store refuses, in the same atomic step as the write, to leave no enabled admin.
    const updated = isValidUserId(id) ? await store.updateUser(id, clean, { keepAnAdmin: true }) : null
    if (updated === null) throw new errors.UserNotFound(id)
    return view(updated)
  }

  /** The limits `who` is under now, with what is left (one store read; [] when none). */
  async function limits (who: LimitsSubject): Promise<LimitStatus[]> {
    return limitStatus(store, who, config.gateway.limits, clock.now())
  }

  /** Deletes the user and every key of theirs (atomically, in the store), unless the last enabled admin. */
  async function deleteUser (id: string): Promise<void> {
    const deleted = isValidUserId(id) ? await store.deleteUser(id, { keepAnAdmin: true }) : false
    if (!deleted) throw new errors.UserNotFound(id)
  }

  /**
   * Servers for the key form. A user sees the servers they can reach now; an admin sees every
   * server with its access rule. Upstream URLs and headers (credentials) never leave config.
   */
  function listServers (viewer: AccessSubject): McpServerView[] {
    const admin = viewer.role === 'admin'
    const out: McpServerView[] = []
    for (const s of servers.values()) {
      const reachable = userCanReach(s.access, viewer)
      if (!reachable && !admin) continue
      out.push({
        id: s.id,
        name: s.name,
        description: s.description,
        connectPath: `/mcp-connect/${s.id}`,
        reachable,
        ...(admin ? { access: s.access } : {})
      })
    }
    return out
  }

  /**
   * The server whose catalog a caller may see, and what the caller's own permissions allow of it
   * (ownerRule of its policies; undefined = everything). A user sees the servers they can reach,
   * an admin every server (as listServers shows them); the bootstrap admin token (no user) sees
   * everything of every server. Anything else answers like a missing server (404).
   */
  function catalogTarget (id: string, viewer: AccessSubject | null): { server: ServerConfig, rule: ScopeRule | undefined } {
    const server = servers.get(id)
    if (server === undefined) throw new errors.ServerNotFound(id)
    if (viewer === null) return { server, rule: undefined }
    if (viewer.role !== 'admin' && !userCanReach(server.access, viewer)) throw new errors.ServerNotFound(id)
    return { server, rule: ownerRule(server.policies, viewer) }
  }

  /** Whether a server of this id is configured now (OAuth resource indicators name one). */
  function hasServer (id: string): boolean {
    return servers.has(id)
  }

  /** Whether a key of this scope and owner reaches server `id` now (what the gateway checks per request). */
  function keyReaches (mcpServerIds: readonly string[], owner: AccessSubject, id: string): boolean {
    const server = servers.get(id)
    return server !== undefined && scopeIncludes(mcpServerIds, id) && userCanReach(server.access, owner)
  }

  /** Hot reload: new servers and access rules apply to the next key created or listed. */
  function reloadServers (next: readonly ServerConfig[]): void {
    servers = new Map(next.map(s => [s.id, s]))
  }

  return {
    userView: view,
    reloadServers,
    createKey,
    createGrant,
    listKeys,
    listKeysWithOwners,
    getKey,
    getKeyWithOwner,
    deleteKey,
    rotateKey,
    createUser,
    listUsers,
    getUser,
    getUserByEmail,
    updateUser,
    deleteUser,
    limits,
    listServers,
    hasServer,
    keyReaches,
    catalogTarget
  }
}
