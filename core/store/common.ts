// Small pieces both KeyStore implementations share: new user records, page requests and cursors,
// invalidation messages on the wire, listener calls that cannot break delivery, createKey's limit.
import { channel } from 'node:diagnostics_channel'
import { isValidUserId, newUserId } from '../key-format.ts'
import { decodeKeyCursor, encodeKeyCursor, type InvalidationEvent, type KeyLimits, type NewUser, type OidcIdentity, type Page, type PageRequest, type User } from './store.ts'

/** A validated page request; a bad limit or cursor is a TypeError the admin API maps to 400. */
export function checkPageRequest (page: PageRequest): { limit: number, after: { createdAt: number, id: string } | null } {
  if (!Number.isInteger(page.limit) || page.limit < 1) {
    throw new TypeError(`page limit must be a positive integer, got ${String(page.limit)}`)
  }
  if (page.cursor === undefined || page.cursor === null) return { limit: page.limit, after: null }
  const after = typeof page.cursor === 'string' ? decodeKeyCursor(page.cursor) : null
  if (after === null) throw new TypeError('invalid page cursor: pass back the nextCursor of a previous page')
  return { limit: page.limit, after }
}

/** `rows` holds up to limit + 1 items: the extra one only tells that another page exists. */
export function pageOf<T extends { createdAt: number, id: string }> (rows: T[], limit: number): Page<T> {
  if (rows.length <= limit) return { items: rows, nextCursor: null }
  const items = rows.slice(0, limit)
  const last = items[items.length - 1] as T
  return { items, nextCursor: encodeKeyCursor(last.createdAt, last.id) }
}

export function serializeInvalidation (event: InvalidationEvent): string {
  return JSON.stringify(event)
}

/** null for anything that is not an event we know (e.g. written by a newer version). */
export function parseInvalidation (text: string): InvalidationEvent | null {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return null
  }
  if (typeof value !== 'object' || value === null) return null
  const event = value as Record<string, unknown>
  if (event.type === 'key' && typeof event.keyId === 'string') return { type: 'key', keyId: event.keyId }
  if (event.type === 'user' && typeof event.userId === 'string') return { type: 'user', userId: event.userId }
  if (event.type === 'all') return { type: 'all' }
  return null
}

/** A throwing listener must not stop delivery to the others, nor kill a poll timer or socket handler. */
export function notifySafely (fn: () => void): void {
  try {
    fn()
  } catch (err) {
    process.emitWarning(`mcpgate store: invalidation listener threw: ${err instanceof Error ? err.message : String(err)}`)
  }
}

/** The record both stores write for createUser: id chosen or generated, defaults applied. */
export function newUserRecord (input: NewUser, now: number): User {
  const id = input.id ?? newUserId()
  if (!isValidUserId(id)) throw new TypeError('createUser: id must be 1-32 base62 characters')
  const kind = input.kind ?? 'human'
  if (input.email === '' && kind !== 'service') throw new TypeError('createUser: only a service account may have no email')
  return {
    id,
    kind,
    email: input.email,
    name: input.name,
    role: input.role,
    groups: [...input.groups],
    disabled: input.disabled ?? false,
    createdAt: now,
    ...(input.identity === undefined ? {} : { identity: { issuer: input.identity.issuer, subject: input.identity.subject } })
  }
}

/**
 * The unique email index's entry for a user: the lowercased email; for a service account without
 * one, '#' + id — no email address (it always holds an '@') can equal it, and lookups of an email
 * never find it (emailIndexOf of a lookup without '@' is null).
 */
export function emailIndexOf (user: Pick<User, 'id' | 'email'>): string {
  return user.email === '' ? '#' + user.id : user.email.toLowerCase()
}

/** The index entry to look an email up under; null when no user can have it. */
export function emailLookupOf (email: string): string | null {
  return email.includes('@') ? email.toLowerCase() : null
}

export function sameIdentity (a: OidcIdentity | null | undefined, b: OidcIdentity | null | undefined): boolean {
  if (a === null || a === undefined || b === null || b === undefined) return (a ?? null) === (b ?? null)
  return a.issuer === b.issuer && a.subject === b.subject
}

/** createKey's limit, checked before any write: null when there is none. */
export function maxKeysOf (limits: KeyLimits | undefined): number | null {
  const max = limits?.maxKeysPerUser
  if (max === undefined) return null
  if (!Number.isInteger(max) || max < 0) throw new TypeError(`createKey: limits.maxKeysPerUser must be a non-negative integer, got ${String(max)}`)
  return max
}

/** One store call, as published on `storeCalls`. */
export interface StoreCall {
  /** The store instance (several may share a process: listeners filter on it). */
  readonly store: object
  /** The KeyStore method. */
  readonly operation: string
  readonly seconds: number
  /** It threw (the store was unreachable, timed out, or refused the write). */
  readonly failed: boolean
}

/**
 * Every store call's outcome, on diagnostics_channel `mcpgate:store`: metrics listen beside the
 * calls instead of wrapping the store. Nothing is timed while nobody listens.
 */
export const storeCalls = channel('mcpgate:store')

/** Publishes a call that began at `started` (performance.now(), or -1: nobody was listening). */
export function publishCall (store: object, operation: string, started: number, failed: boolean): void {
  if (started < 0) return
  const call: StoreCall = { store, operation, seconds: (performance.now() - started) / 1000, failed }
  storeCalls.publish(call)
}

/** performance.now() when someone listens to store calls, else -1. */
export function callStart (): number {
  return storeCalls.hasSubscribers ? performance.now() : -1
}
