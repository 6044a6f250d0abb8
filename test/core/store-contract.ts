// The one KeyStore contract, run against every implementation (store-sqlite.test.ts,
// store-redis.test.ts). Each subtest gets a fresh, empty store from makeStore.
import type { Test } from 'tap'
import type { AuditEvent, AuditPage, AuditQuery } from '../../core/audit.ts'
import { ManualClock, type Clock } from '../../core/clock.ts'
import { StoreConflictError } from '../../core/errors.ts'
import { isValidUserId, newKeyId } from '../../core/key-format.ts'
import {
  keyFingerprint,
  type ApiKeyRecord,
  type InvalidationEvent,
  type InvalidationListener,
  type KeyStore,
  type NewUser,
  type Page,
  type User
} from '../../core/store/store.ts'

export type MakeStore = (t: Test, opts: { clock?: Clock }) => Promise<KeyStore>

export interface ContractOptions {
  /**
   * Backend-level inspection: the raw storage holds exactly these users and keys, and no index
   * entry points at anything else (no orphans after deletes).
   */
  assertStorage?: (t: Test, store: KeyStore, expected: { userIds: string[], keyIds: string[] }) => Promise<void>
}

const FAKE_HASH = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNo'

let emailCounter = 0
export function newUser (overrides: Partial<NewUser> = {}): NewUser {
  emailCounter++
  return { email: `user${emailCounter}-${process.pid}@example.com`, name: `User ${emailCounter}`, role: 'user', groups: [], ...overrides }
}

export function keyRecord (userId: string, overrides: Partial<ApiKeyRecord> = {}): ApiKeyRecord {
  return {
    id: newKeyId(),
    userId,
    name: 'laptop',
    description: '',
    mcpServerIds: ['*'],
    createdAt: Date.parse('2026-01-01T00:00:00Z'),
    expiresAt: null,
    lastUsedAt: null,
    secretHash: FAKE_HASH,
    ...overrides
  }
}

/** Byte order, as SQLite's BINARY collation and Redis lex ranges compare ids. */
function compareIds (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

export function newestFirst (a: ApiKeyRecord, b: ApiKeyRecord): number {
  return b.createdAt - a.createdAt || compareIds(b.id, a.id)
}

/** Records invalidation callbacks; waiters are bounded by a deadline instead of sleeping. */
export class EventRecorder implements InvalidationListener {
  readonly events: InvalidationEvent[] = []
  resyncs = 0
  private waiters: Array<() => void> = []

  onEvent (event: InvalidationEvent): void {
    this.events.push(event)
    this.wake()
  }

  onResync (): void {
    this.resyncs++
    this.wake()
  }

  /** Resolves once `check()` is true; rejects after `ms` with `what` in the message. */
  async until (what: string, check: () => boolean, ms = 3000): Promise<void> {
    if (check()) return
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter(w => w !== waiter)
        reject(new Error(`timed out after ${ms} ms waiting for ${what}`))
      }, ms)
      const waiter = (): void => {
        if (!check()) return
        clearTimeout(timer)
        this.waiters = this.waiters.filter(w => w !== waiter)
        resolve()
      }
      this.waiters.push(waiter)
    })
  }

  event (match: (e: InvalidationEvent) => boolean, what: string, ms?: number): Promise<void> {
    return this.until(what, () => this.events.some(match), ms)
  }

  private wake (): void {
    for (const waiter of [...this.waiters]) waiter()
  }
}

/**
 * Polls `check` (sync or async) until true, with a bounded deadline; for state that has no event
 * to await (a socket closing, another process's write). Rejects naming `what` on timeout.
 */
export async function pollUntil (what: string, check: () => boolean | Promise<boolean>, ms = 3000, everyMs = 5): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    if (await check()) return
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
}

async function collectPages<T> (fetch: (cursor: string | null) => Promise<Page<T>>, limit: number, t: Test): Promise<T[]> {
  const all: T[] = []
  let cursor: string | null = null
  for (let pages = 0; ; pages++) {
    if (pages > 10_000) throw new Error('pagination does not terminate')
    const page: Page<T> = await fetch(cursor)
    if (page.nextCursor !== null && page.items.length !== limit) t.fail(`a page with a next cursor has ${page.items.length} items, not ${limit}`)
    all.push(...page.items)
    if (page.nextCursor === null) return all
    cursor = page.nextCursor
  }
}

export function storeContract (t: Test, makeStore: MakeStore, options: ContractOptions = {}): void {
  const assertStorage = options.assertStorage ?? (async () => {})

  t.test('creates, reads, updates and deletes a user', async t => {
    const clock = new ManualClock()
    const store = await makeStore(t, { clock })
    await store.ping()
    const created = await store.createUser(newUser({ email: 'Ada@Example.com', name: 'Ada', role: 'admin', groups: ['eng', 'ops'] }))
    t.ok(isValidUserId(created.id), 'a generated id is 1-32 base62')
    t.same(created, { id: created.id, kind: 'human', email: 'Ada@Example.com', name: 'Ada', role: 'admin', groups: ['eng', 'ops'], disabled: false, createdAt: clock.now() })
    t.same(await store.getUser(created.id), created, 'read back as written')
    t.equal(await store.getUser('nosuchuser'), null)

    const updated = await store.updateUser(created.id, { name: 'Ada L.', groups: ['eng'], disabled: true })
    t.same(updated, { ...created, name: 'Ada L.', groups: ['eng'], disabled: true }, 'only the patched fields change')
    t.same(await store.getUser(created.id), updated)
    t.same(await store.updateUser(created.id, { role: 'user' }), { ...updated, role: 'user' })
    t.equal(await store.updateUser('nosuchuser', { name: 'x' }), null, 'updating a missing user → null')

    t.equal(await store.deleteUser(created.id), true)
    t.equal(await store.getUser(created.id), null)
    t.equal(await store.getUserByEmail('ada@example.com'), null)
    t.equal(await store.deleteUser(created.id), false, 'deleting again → false')
    await assertStorage(t, store, { userIds: [], keyIds: [] })
  })

  t.test('keeps a caller-chosen user id and refuses an invalid or taken one', async t => {
    const store = await makeStore(t, {})
    const user = await store.createUser(newUser({ id: 'svcAccount01' }))
    t.equal(user.id, 'svcAccount01')
    t.same(await store.getUser('svcAccount01'), user)
    await t.rejects(store.createUser(newUser({ id: 'not-base62!' })), TypeError)
    await t.rejects(store.createUser(newUser({ id: 'svcAccount01' })), StoreConflictError, 'same id, other email')
    await assertStorage(t, store, { userIds: [user.id], keyIds: [] })
  })

  t.test('email is unique and looked up case-insensitively', async t => {
    const store = await makeStore(t, {})
    const user = await store.createUser(newUser({ email: 'Grace.Hopper@Example.COM' }))
    t.same(await store.getUserByEmail('grace.hopper@example.com'), user)
    t.same(await store.getUserByEmail('GRACE.HOPPER@EXAMPLE.COM'), user)
    t.equal(await store.getUserByEmail('grace@example.com'), null)
    const err = await store.createUser(newUser({ email: 'grace.hopper@EXAMPLE.com' })).then(() => null, (e: unknown) => e)
    t.ok(err instanceof StoreConflictError, 'a duplicate email in another case → StoreConflictError')
    t.equal((err as StoreConflictError).field, 'email')
    t.equal((await store.listUsers({ limit: 10 })).items.length, 1, 'the duplicate was not half-written')
    t.equal(await store.deleteUser(user.id), true)
    const again = await store.createUser(newUser({ email: 'grace.hopper@example.com' }))
    t.same(await store.getUserByEmail('Grace.Hopper@Example.com'), again, 'a deleted user frees the email')
  })

  t.test('an OIDC identity belongs to one user: created with it, found by it, freed with the user', async t => {
    const store = await makeStore(t, {})
    const identity = { issuer: 'https://idp.example.com/', subject: 'Sub-1' }
    const user = await store.createUser(newUser({ identity }))
    t.same(user.identity, identity)
    t.same(await store.getUserByIdentity(identity), user, 'found by (issuer, subject)')
    t.same(await store.getUser(user.id), user, 'read back with its identity')
    t.same(await store.getUserByEmail(user.email), user)
    t.equal(await store.getUserByIdentity({ issuer: identity.issuer, subject: 'sub-1' }), null, 'the subject is compared exactly')
    t.equal(await store.getUserByIdentity({ issuer: 'https://idp.example.com', subject: 'Sub-1' }), null, 'and so is the issuer')
    const other = await store.createUser(newUser())
    t.notOk('identity' in other, 'a user without an identity has no identity field')

    const err = await store.createUser(newUser({ identity: { ...identity } })).then(() => null, (e: unknown) => e)
    t.ok(err instanceof StoreConflictError, 'a second user with the same identity → StoreConflictError')
    t.equal((err as StoreConflictError).field, 'identity')
    t.equal((await store.listUsers({ limit: 10 })).items.length, 2, 'the refused user was not half-written')
    await assertStorage(t, store, { userIds: [user.id, other.id], keyIds: [] })

    const updated = await store.updateUser(user.id, { name: 'Renamed' })
    t.same(updated?.identity, identity, 'a patch keeps the identity')
    t.equal(await store.deleteUser(user.id), true)
    t.equal(await store.getUserByIdentity(identity), null, 'deleting the user frees the identity')
    const again = await store.createUser(newUser({ identity }))
    t.same(await store.getUserByIdentity(identity), again)
    await assertStorage(t, store, { userIds: [other.id, again.id], keyIds: [] })
  })

  t.test('linkIdentity is a compare-and-set; a replaced identity is freed; a taken one is refused', async t => {
    const store = await makeStore(t, {})
    const first = { issuer: 'https://old-idp.example.com/', subject: 'u-1' }
    const second = { issuer: 'https://new-idp.example.com/', subject: 'u-1' }
    const user = await store.createUser(newUser())
    const other = await store.createUser(newUser())

    t.equal(await store.linkIdentity(user.id, first, first), null, 'expected an identity, the user has none → null')
    t.notOk((await store.getUser(user.id))?.identity, 'nothing linked')
    const linked = await store.linkIdentity(user.id, first, null)
    t.same(linked, { ...user, identity: first }, 'linked, the updated user returned')
    t.same(await store.getUserByIdentity(first), linked)
    t.same(await store.linkIdentity(user.id, first, first), linked, 'linking the same identity again is idempotent')
    t.equal(await store.linkIdentity(user.id, second, null), null, 'a stale expectation (none) → null, nothing changed')
    t.same((await store.getUser(user.id))?.identity, first)

    const err = await store.linkIdentity(other.id, first, null).then(() => null, (e: unknown) => e)
    t.ok(err instanceof StoreConflictError, 'an identity another user holds → StoreConflictError')
    t.equal((err as StoreConflictError).field, 'identity')
    t.notOk((await store.getUser(other.id))?.identity, 'the other user is unchanged')

    const moved = await store.linkIdentity(user.id, second, first)
    t.same(moved?.identity, second, 'replaced')
    t.equal(await store.getUserByIdentity(first), null, 'the replaced identity is free')
    t.same(await store.getUserByIdentity(second), moved)
    t.same((await store.linkIdentity(other.id, first, null))?.identity, first, 'and can be linked to someone else')
    t.equal(await store.linkIdentity('nosuchuser', { issuer: 'x', subject: 'y' }, null), null, 'a missing user → null')
    await assertStorage(t, store, { userIds: [user.id, other.id], keyIds: [] })

    const racers = await Promise.allSettled([1, 2, 3, 4, 5].map(i => store.linkIdentity(other.id, { issuer: 'https://race.example.com/', subject: `s${i}` }, first)))
    t.equal(racers.filter(r => r.status === 'fulfilled' && r.value !== null).length, 1, 'of concurrent links with one expectation, one wins')
    await assertStorage(t, store, { userIds: [user.id, other.id], keyIds: [] })
  })

  t.test('lists users oldest first across pages, ties broken by id', async t => {
    const clock = new ManualClock()
    const store = await makeStore(t, { clock })
    const created: User[] = []
    for (let i = 0; i < 25; i++) {
      if (i % 3 === 0) clock.advance(1000)
      created.push(await store.createUser(newUser()))
    }
    const expected = [...created].sort((a, b) => a.createdAt - b.createdAt || compareIds(a.id, b.id))
    const listed = await collectPages(cursor => store.listUsers({ limit: 4, cursor }), 4, t)
    t.same(listed.map(u => u.id), expected.map(u => u.id), 'every user once, in (createdAt, id) order')
    t.same(listed, expected, 'full records')
    const single = await store.listUsers({ limit: 25 })
    t.equal(single.items.length, 25)
    t.equal(single.nextCursor, null, 'no empty trailing page')
    await t.rejects(store.listUsers({ limit: 4, cursor: 'garbage' }), TypeError, 'an invalid cursor is a TypeError')
    await t.rejects(store.listUsers({ limit: 0 }), TypeError, 'a limit below 1 is a TypeError')
  })

  t.test('service accounts: their kind kept, no email needed, never found by email, listed apart', async t => {
    const clock = new ManualClock()
    const store = await makeStore(t, { clock })
    const bot = await store.createUser(newUser({ kind: 'service', email: '', name: 'CI bot', groups: ['ci'] }))
    clock.advance(1)
    const other = await store.createUser(newUser({ kind: 'service', email: '', name: 'Nightly' }))
    clock.advance(1)
    const mailed = await store.createUser(newUser({ kind: 'service', email: 'Deploy@Example.com', name: 'Deploy' }))
    t.same(bot, { id: bot.id, kind: 'service', email: '', name: 'CI bot', role: 'user', groups: ['ci'], disabled: false, createdAt: clock.now() - 2 })
    t.same(await store.getUser(bot.id), bot, 'read back as written')
    t.equal(await store.getUserByEmail(''), null, 'no email finds nobody')
    t.equal(await store.getUserByEmail('#' + bot.id), null, 'nor does the index entry an email-less account is kept under')
    t.same(await store.getUserByEmail('deploy@example.com'), mailed, 'a service account\'s email is unique and found like any')
    await t.rejects(store.createUser(newUser({ email: '' })), TypeError, 'a human needs an email')

    // Humans and service accounts interleaved across more than one of a store's internal chunks.
    const humans: User[] = []
    for (let i = 0; i < 130; i++) {
      clock.advance(1)
      humans.push(await store.createUser(newUser()))
    }
    clock.advance(1)
    const last = await store.createUser(newUser({ kind: 'service', email: '', name: 'Last' }))
    const services = await collectPages(cursor => store.listUsers({ limit: 2, cursor, kind: 'service' }), 2, t)
    t.same(services.map(u => u.id), [bot.id, other.id, mailed.id, last.id], 'only service accounts, oldest first, over pages')
    const people = await collectPages(cursor => store.listUsers({ limit: 50, cursor, kind: 'human' }), 50, t)
    t.same(people.map(u => u.id), humans.map(u => u.id), 'only humans')
    t.equal((await collectPages(cursor => store.listUsers({ limit: 50, cursor }), 50, t)).length, humans.length + 4, 'no kind: everyone')

    const key = keyRecord(bot.id)
    await store.createKey(key)
    t.equal((await store.getKeyWithOwner(key.id))?.owner.kind, 'service', 'the owner read with a key has its kind')
    t.equal(await store.deleteUser(bot.id), true)
    t.equal(await store.getKey(key.id), null, 'deleting a service account deletes its keys')
    await assertStorage(t, store, { userIds: [other.id, mailed.id, last.id, ...humans.map(u => u.id)], keyIds: [] })
  })

  t.test('creates a key and reads it back, with its owner and count', async t => {
    const store = await makeStore(t, {})
    const owner = await store.createUser(newUser({ groups: ['eng'] }))
    const other = await store.createUser(newUser())
    const record = keyRecord(owner.id, {
      name: 'ci',
      description: 'used by CI',
      mcpServerIds: ['github', 'jira'],
      expiresAt: Date.parse('2027-01-01T00:00:00Z'),
      lastUsedAt: Date.parse('2026-01-02T00:00:00Z')
    })
    await store.createKey(record)
    const neverExpires = keyRecord(owner.id)
    await store.createKey(neverExpires)
    t.same(await store.getKey(record.id), record, 'every field round-trips')
    t.same(await store.getKey(neverExpires.id), neverExpires, 'null expiresAt and lastUsedAt round-trip')
    t.same(await store.getKeyWithOwner(record.id), { key: record, owner })
    t.equal(await store.getKey(newKeyId()), null)
    t.equal(await store.getKeyWithOwner(newKeyId()), null)
    t.equal(await store.countKeys(owner.id), 2)
    t.equal(await store.countKeys(other.id), 0)
    t.equal(await store.countKeys('nosuchuser'), 0)

    await t.rejects(store.createKey(keyRecord('nosuchuser')), Error, 'the owner must exist')
    await t.rejects(store.createKey({ ...record, name: 'again' }), StoreConflictError, 'a taken key id is refused')
    t.same(await store.getKey(record.id), record, 'the refused write changed nothing')
    await assertStorage(t, store, { userIds: [owner.id, other.id], keyIds: [record.id, neverExpires.id] })
  })

  t.test('200 parallel createUser and createKey calls each store a distinct record', async t => {
    const store = await makeStore(t, {})
    const users = await Promise.all(Array.from({ length: 200 }, () => store.createUser(newUser())))
    t.equal(new Set(users.map(u => u.id)).size, 200, 'distinct generated user ids')
    const owner = users[0] as User
    const records = Array.from({ length: 200 }, (_, i) => keyRecord(owner.id, { createdAt: 1_000_000 + i }))
    await Promise.all(records.map(r => store.createKey(r)))
    t.equal(await store.countKeys(owner.id), 200)
    const listed = await collectPages(cursor => store.listKeys({ limit: 50, cursor }), 50, t)
    t.same(new Set(listed.map(k => k.id)), new Set(records.map(r => r.id)), 'every key stored once')
    const allUsers = await collectPages(cursor => store.listUsers({ limit: 64, cursor }), 64, t)
    t.equal(allUsers.length, 200)
  })

  t.test('pages over 1000 keys newest first without gaps or duplicates, also per user', async t => {
    const store = await makeStore(t, {})
    const alice = await store.createUser(newUser())
    const bob = await store.createUser(newUser())
    const base = Date.parse('2026-03-01T00:00:00Z')
    // Four keys per millisecond: ties on createdAt must be ordered by id, never skipped.
    const records = Array.from({ length: 1000 }, (_, i) => keyRecord(i % 3 === 0 ? alice.id : bob.id, { createdAt: base + Math.floor(i / 4) }))
    for (let i = 0; i < records.length; i += 100) await Promise.all(records.slice(i, i + 100).map(r => store.createKey(r)))
    const expected = [...records].sort(newestFirst)

    const all = await collectPages(cursor => store.listKeys({ limit: 37, cursor }), 37, t)
    t.equal(all.length, 1000)
    t.same(all.map(k => k.id), expected.map(k => k.id), 'all keys, newest first, ties by id desc')
    t.same(all[0], expected[0], 'full records')

    for (const user of [alice, bob]) {
      const mine = await collectPages(cursor => store.listKeys({ limit: 37, cursor, userId: user.id }), 37, t)
      t.same(mine.map(k => k.id), expected.filter(k => k.userId === user.id).map(k => k.id), 'filtered by owner, same order')
    }
    t.same(await store.listKeys({ limit: 37, userId: 'nosuchuser' }), { items: [], nextCursor: null })
    await t.rejects(store.listKeys({ limit: 37, cursor: '123.abc' }), TypeError, 'an invalid cursor is a TypeError')
  })

  t.test('deleteKey removes the key from every index and returns it', async t => {
    const store = await makeStore(t, {})
    const owner = await store.createUser(newUser())
    const kept = keyRecord(owner.id, { createdAt: 1 })
    const doomed = keyRecord(owner.id, { createdAt: 2 })
    await store.createKey(kept)
    await store.createKey(doomed)
    t.same(await store.deleteKey(doomed.id), doomed, 'the deleted record is returned')
    t.equal(await store.getKey(doomed.id), null)
    t.equal(await store.getKeyWithOwner(doomed.id), null)
    t.equal(await store.countKeys(owner.id), 1)
    t.same((await store.listKeys({ limit: 10 })).items.map(k => k.id), [kept.id])
    t.same((await store.listKeys({ limit: 10, userId: owner.id })).items.map(k => k.id), [kept.id])
    t.equal(await store.deleteKey(doomed.id), null, 'deleting again → null')
    await assertStorage(t, store, { userIds: [owner.id], keyIds: [kept.id] })
    t.same(await store.deleteKey(kept.id), kept)
    await assertStorage(t, store, { userIds: [owner.id], keyIds: [] })
  })

  t.test('deleteUser removes the user, every key of theirs and every index entry', async t => {
    const store = await makeStore(t, {})
    const doomed = await store.createUser(newUser({ email: 'Doomed@Example.com' }))
    const other = await store.createUser(newUser())
    const doomedKeys = Array.from({ length: 5 }, (_, i) => keyRecord(doomed.id, { createdAt: 10 + i }))
    const otherKey = keyRecord(other.id, { createdAt: 12 })
    for (const r of [...doomedKeys, otherKey]) await store.createKey(r)

    t.equal(await store.deleteUser(doomed.id), true)
    t.equal(await store.getUser(doomed.id), null)
    t.equal(await store.getUserByEmail('doomed@example.com'), null)
    for (const r of doomedKeys) t.equal(await store.getKey(r.id), null, 'each of their keys is gone')
    t.equal(await store.countKeys(doomed.id), 0)
    t.same((await store.listKeys({ limit: 10 })).items, [otherKey], 'only the other user\'s key is listed')
    t.same((await store.listKeys({ limit: 10, userId: doomed.id })).items, [])
    t.same((await store.listUsers({ limit: 10 })).items, [other])
    await assertStorage(t, store, { userIds: [other.id], keyIds: [otherKey.id] })
    await t.rejects(store.createKey(keyRecord(doomed.id)), Error, 'no key can be created for a deleted user')
    await assertStorage(t, store, { userIds: [other.id], keyIds: [otherKey.id] })
  })

  t.test('recordLastUsed keeps the latest time and never resurrects a deleted key', async t => {
    const store = await makeStore(t, {})
    const owner = await store.createUser(newUser())
    const a = keyRecord(owner.id)
    const b = keyRecord(owner.id, { lastUsedAt: 5000 })
    const gone = keyRecord(owner.id)
    for (const r of [a, b, gone]) await store.createKey(r)
    await store.deleteKey(gone.id)

    await store.recordLastUsed(new Map([[a.id, 3000], [b.id, 4000], [gone.id, 9000], [newKeyId(), 9000]]))
    t.equal((await store.getKey(a.id))?.lastUsedAt, 3000, 'null → the recorded time')
    t.equal((await store.getKey(b.id))?.lastUsedAt, 5000, 'an older time does not move it back')
    t.equal(await store.getKey(gone.id), null, 'the deleted key stays deleted')
    await store.recordLastUsed(new Map([[b.id, 6000]]))
    t.equal((await store.getKey(b.id))?.lastUsedAt, 6000, 'a newer time moves it forward')
    await store.recordLastUsed(new Map())
    t.equal(await store.countKeys(owner.id), 2)
    t.same((await store.getKey(a.id)), { ...a, lastUsedAt: 3000 }, 'nothing else changes')
    await assertStorage(t, store, { userIds: [owner.id], keyIds: [a.id, b.id] })
  })

  t.test('reads racing deletes see the whole record or nothing', async t => {
    const store = await makeStore(t, {})
    const owner = await store.createUser(newUser())
    const records = Array.from({ length: 60 }, (_, i) => keyRecord(owner.id, { createdAt: i, mcpServerIds: ['a', 'b'], expiresAt: 10 ** 13 }))
    await Promise.all(records.map(r => store.createKey(r)))
    const reads: Array<Promise<{ record: ApiKeyRecord, got: ApiKeyRecord | null }>> = []
    const deletes: Array<Promise<ApiKeyRecord | null>> = []
    for (const record of records) {
      reads.push(store.getKey(record.id).then(got => ({ record, got })))
      deletes.push(store.deleteKey(record.id))
      reads.push(store.getKeyWithOwner(record.id).then(got => ({ record, got: got?.key ?? null })))
      reads.push(store.getKey(record.id).then(got => ({ record, got })))
    }
    const results = await Promise.all(reads)
    const deleted = await Promise.all(deletes)
    let whole = 0
    for (const { record, got } of results) {
      if (got === null) continue
      if (JSON.stringify(got) !== JSON.stringify(record)) t.fail(`partial record for ${record.id}: ${JSON.stringify(got)}`)
      else whole++
    }
    t.pass(`${whole} reads saw a whole record, ${results.length - whole} saw none`)
    t.same(deleted, records, 'every delete returned the whole record')
    await assertStorage(t, store, { userIds: [owner.id], keyIds: [] })
  })

  t.test('subscribers get onResync on subscribe and an event after every invalidating write', async t => {
    const store = await makeStore(t, {})
    const owner = await store.createUser(newUser())
    const key = keyRecord(owner.id)
    await store.createKey(key)
    const rec = new EventRecorder()
    const unsubscribe = store.subscribe(rec)
    t.teardown(unsubscribe)
    await rec.until('onResync after subscribe', () => rec.resyncs === 1)
    t.ok(store.isSubscribed(), 'isSubscribed while subscribed')

    await store.deleteKey(key.id)
    await rec.event(e => e.type === 'key' && e.keyId === key.id, 'key event after deleteKey')
    await store.updateUser(owner.id, { disabled: true })
    await rec.until('user event after updateUser', () => rec.events.filter(e => e.type === 'user' && e.userId === owner.id).length === 1)
    await store.deleteUser(owner.id)
    await rec.until('user event after deleteUser', () => rec.events.filter(e => e.type === 'user' && e.userId === owner.id).length === 2)
    await store.publish({ type: 'all' })
    await rec.event(e => e.type === 'all', 'the published event')
    await store.publish({ type: 'key', keyId: 'AAAAAAAAAAAAAAAA' })
    await rec.event(e => e.type === 'key' && e.keyId === 'AAAAAAAAAAAAAAAA', 'a published key event')
    t.same(rec.events, [
      { type: 'key', keyId: key.id },
      { type: 'user', userId: owner.id },
      { type: 'user', userId: owner.id },
      { type: 'all' },
      { type: 'key', keyId: 'AAAAAAAAAAAAAAAA' }
    ], 'each event exactly once, in order')
    t.equal(rec.resyncs, 1, 'no spurious resync')
  })

  t.test('writes that change nothing publish nothing; unsubscribe stops delivery', async t => {
    const store = await makeStore(t, {})
    const owner = await store.createUser(newUser())
    const rec = new EventRecorder()
    const late = new EventRecorder()
    const unsubscribe = store.subscribe(rec)
    await rec.until('onResync', () => rec.resyncs === 1)
    const unsubscribeLate = store.subscribe(late)
    t.teardown(unsubscribeLate)
    await late.until('onResync for the second listener', () => late.resyncs === 1)
    t.equal(rec.resyncs, 1, 'a new listener does not resync the others')

    await store.deleteKey(newKeyId())
    await store.createKey(keyRecord(owner.id))
    await store.recordLastUsed(new Map([[newKeyId(), 1]]))
    unsubscribe()
    await store.publish({ type: 'user', userId: 'marker' })
    await late.event(e => e.type === 'user' && e.userId === 'marker', 'the marker event on the remaining listener')
    t.same(late.events, [{ type: 'user', userId: 'marker' }], 'only the marker: deleting a missing key, creating and touching keys publish nothing')
    t.same(rec.events, [], 'the unsubscribed listener got nothing')
  })

  t.test('an MCP session is bound to the first key, until it is deleted or its TTL runs out', async t => {
    const store = await makeStore(t, {})
    const id = `session-${Math.random().toString(36).slice(2)}`
    t.equal(await store.getSession(id, 60_000), null, 'unknown before it is bound')
    t.equal(await store.bindSession(id, 'keyA', 60_000), 'keyA', 'the first binding wins…')
    t.equal(await store.bindSession(id, 'keyB', 60_000), 'keyA', '…and a second one returns it unchanged')
    t.equal(await store.getSession(id, 60_000), 'keyA')
    await store.touchSession(id, 60_000)
    await store.touchSession('never-bound', 60_000)
    t.equal(await store.getSession('never-bound', 60_000), null, 'touching an unknown session binds nothing')
    await store.deleteSession(id)
    t.equal(await store.getSession(id, 60_000), null, 'deleted')
    t.equal(await store.bindSession(id, 'keyB', 60_000), 'keyB', 'a deleted session can be bound again')

    const brief = `${id}-brief`
    t.equal(await store.bindSession(brief, 'keyA', 1), 'keyA')
    // Redis expires it on its own clock, SQLite compares with the store's: no event to await.
    await pollUntil('the 1 ms binding to expire', async () => (await store.getSession(brief, 1)) === null)
    t.equal(await store.bindSession(brief, 'keyB', 60_000), 'keyB', 'an expired binding is taken over')
  })

  t.test('per-tool scopes round-trip, absent means whole servers, and they are part of the fingerprint', async t => {
    const store = await makeStore(t, {})
    const owner = await store.createUser(newUser())
    const scopes = { github: { tools: ['search_*', 'get_issue'], prompts: [] }, '*': { resources: ['file:///docs/*'] } }
    const scoped = keyRecord(owner.id, { mcpServerIds: ['github', 'docs'], scopes })
    const plain = keyRecord(owner.id, { mcpServerIds: ['github'] })
    await store.createKey(scoped)
    await store.createKey(plain)
    t.same((await store.getKey(scoped.id))?.scopes, scopes, 'read back as written')
    t.same((await store.getKeyWithOwner(scoped.id))?.key.scopes, scopes, 'also with its owner')
    t.equal((await store.getKey(plain.id))?.scopes ?? null, null, 'a key without scopes reads back without')
    t.not(keyFingerprint({ ...scoped, scopes: { github: { tools: ['search_*'] } } }), keyFingerprint(scoped), 'scopes change the fingerprint')
    t.equal(keyFingerprint(await store.getKey(scoped.id) as ApiKeyRecord), keyFingerprint(scoped), 'the stored record has the written fingerprint')
  })

  t.test('audit events: appended in batches, listed newest first over cursor pages, filtered', async t => {
    const store = await makeStore(t, {})
    const now = Date.now()
    const events: AuditEvent[] = Array.from({ length: 120 }, (_, i) => ({
      time: now - 120 + i,
      requestId: `r${i}`,
      keyId: i % 3 === 0 ? 'keyA' : i % 3 === 1 ? 'keyB' : null,
      userId: i % 3 === 2 ? null : 'user1',
      serverId: i % 2 === 0 ? 'github' : 'docs',
      method: i % 4 === 0 ? 'tools/call' : 'tools/list',
      ...(i % 4 === 0 ? { name: i % 8 === 0 ? 'search' : 'delete_repo' } : {}),
      outcome: i % 5 === 0 ? 'denied' : i % 7 === 0 ? 'error' : 'allowed',
      status: 200,
      durationMs: 1.5,
      bytesIn: 100,
      bytesOut: 200,
      ip: '127.0.0.1',
      userAgent: 'test'
    }))
    const retention = { olderThan: now - 86_400_000, maxEvents: 10_000 }
    await store.appendAudit(events.slice(0, 70), retention)
    await store.appendAudit(events.slice(70), retention)
    const all: AuditEvent[] = []
    let cursor: string | null = null
    for (let pages = 0; pages < 10; pages++) {
      const page: AuditPage = await store.listAudit({ limit: 50, cursor })
      all.push(...page.items)
      cursor = page.nextCursor
      if (cursor === null) break
    }
    t.same(all.map(e => e.requestId), events.map(e => e.requestId).reverse(), 'every event once, newest first, across pages')
    t.ok(all.every(e => typeof e.id === 'string' && e.id !== ''), 'each has a store id')
    t.same(omitId(all.find(e => e.requestId === 'r8')), events[8], 'read back as written')
    const ids = (q: Omit<AuditQuery, 'limit'>) => store.listAudit({ limit: 500, ...q }).then(p => p.items.map(e => e.requestId).reverse())
    const expect = (f: (e: AuditEvent) => boolean) => events.filter(f).map(e => e.requestId)
    t.same(await ids({ keyId: 'keyA' }), expect(e => e.keyId === 'keyA'), 'by key')
    t.same(await ids({ keyIds: ['keyA', 'keyB'] }), expect(e => e.keyId !== null), 'by any of several keys')
    t.same(await ids({ keyIds: [] }), [], 'by none of no keys')
    t.same(await ids({ userId: 'user1', serverId: 'docs' }), expect(e => e.userId === 'user1' && e.serverId === 'docs'), 'by user and server')
    t.same(await ids({ name: 'delete_repo' }), expect(e => e.name === 'delete_repo'), 'by name')
    t.same(await ids({ outcome: 'denied' }), expect(e => e.outcome === 'denied'), 'by outcome')
    t.same(await ids({ since: now - 50, until: now - 20 }), expect(e => e.time >= now - 50 && e.time < now - 20), 'by time')
  })

  t.test('audit retention: by count and by age', async t => {
    const store = await makeStore(t, {})
    const now = Date.now()
    const event = (i: number): AuditEvent => ({ time: now, requestId: `x${i}`, keyId: 'k', userId: 'u', serverId: 's', method: 'ping', outcome: 'allowed', status: 200, durationMs: 1, bytesIn: 1, bytesOut: 1, ip: '::1' })
    await store.appendAudit(Array.from({ length: 20 }, (_, i) => event(i)), { olderThan: now - 60_000, maxEvents: 5 })
    t.same((await store.listAudit({ limit: 100 })).items.map(e => e.requestId), ['x19', 'x18', 'x17', 'x16', 'x15'], 'the newest maxEvents are kept')
    await store.appendAudit([event(99)], { olderThan: Date.now() + 60_000, maxEvents: 5 })
    t.same((await store.listAudit({ limit: 100 })).items, [], 'everything older than olderThan goes')
  })

  t.test('key usage: calls per hour and day, denials, errors, top tools, last use', async t => {
    const store = await makeStore(t, {})
    const day = Math.floor(Date.now() / 86_400_000) * 86_400_000
    const base = { requestId: 'r', userId: 'u', serverId: 's', status: 200, durationMs: 1, bytesIn: 1, bytesOut: 1, ip: '10.0.0.1', userAgent: 'ua/1' }
    const events: AuditEvent[] = [
      { ...base, time: day + 1000, keyId: 'K', method: 'tools/call', name: 'search', outcome: 'allowed' },
      { ...base, time: day + 2000, keyId: 'K', method: 'tools/call', name: 'search', outcome: 'allowed' },
      { ...base, time: day + 3_600_000 + 5, keyId: 'K', method: 'tools/call', name: 'get', outcome: 'allowed', ip: '10.0.0.2', userAgent: 'ua/2' },
      { ...base, time: day + 3_600_000 + 6, keyId: 'K', method: 'tools/call', name: 'delete', outcome: 'denied', code: 'MCPGATE_TOOL_NOT_ALLOWED' },
      { ...base, time: day + 3_600_000 + 7, keyId: 'K', method: 'tools/list', outcome: 'error', status: 502 },
      { ...base, time: day + 2000, keyId: 'other', method: 'tools/call', name: 'search', outcome: 'allowed' }
    ]
    await store.appendAudit(events, { olderThan: day - 40 * 86_400_000, maxEvents: 1000 })
    const usage = await store.keyUsage('K', day - 86_400_000, day + 86_400_000)
    t.equal(usage.hourly.length, 48, 'one bucket per hour of the range')
    t.same(usage.hourly.filter(h => h.calls > 0), [{ start: day, calls: 2, denied: 0, errors: 0 }, { start: day + 3_600_000, calls: 3, denied: 1, errors: 1 }])
    t.same(usage.daily, [{ start: day - 86_400_000, calls: 0, denied: 0, errors: 0 }, { start: day, calls: 5, denied: 1, errors: 1 }])
    t.same(usage.topTools, [{ name: 'search', calls: 2 }, { name: 'get', calls: 1 }], 'allowed tool calls by name, most first')
    t.same(usage.lastUsed, { time: day + 3_600_000 + 5, ip: '10.0.0.2', userAgent: 'ua/2' }, 'the last allowed use')
    t.same(await store.keyUsage('nobody', day, day + 3_600_000), { hourly: [{ start: day, calls: 0, denied: 0, errors: 0 }], daily: [{ start: day, calls: 0, denied: 0, errors: 0 }], topTools: [], lastUsed: null })
  })

  t.test('rotateKey: a new secret, the old one kept until the overlap ends, only the newest previous one', async t => {
    const store = await makeStore(t, {})
    const owner = await store.createUser(newUser())
    const record = keyRecord(owner.id)
    await store.createKey(record)
    const events: string[] = []
    const stop = store.subscribe({ onEvent: e => { if (e.type === 'key') events.push(e.keyId) }, onResync: () => {} })
    t.teardown(stop)
    const now = Date.parse('2027-01-01T00:00:00Z')
    const first = await store.rotateKey(record.id, FAKE_HASH + 'two', now + 60_000, now)
    t.match(first, { id: record.id, secretHash: FAKE_HASH + 'two', secretGeneration: 1, rotatedAt: now, previousSecretHash: FAKE_HASH, previousUntil: now + 60_000 }, 'the old secret becomes the previous one')
    t.same(await store.getKey(record.id), first, 'as stored')
    t.same((await store.getKeyWithOwner(record.id))?.key, first)
    const second = await store.rotateKey(record.id, FAKE_HASH + 'three', now + 120_000, now + 1000)
    t.match(second, { secretHash: FAKE_HASH + 'three', secretGeneration: 2, previousSecretHash: FAKE_HASH + 'two', previousUntil: now + 120_000 }, 'rotating again keeps only the newest previous secret')
    const third = await store.rotateKey(record.id, FAKE_HASH + 'four', now + 2000, now + 2000)
    t.equal(third?.secretGeneration, 3)
    t.equal(third?.previousSecretHash, undefined, 'an overlap of 0: no previous secret')
    t.equal(third?.previousUntil, undefined)
    t.not(keyFingerprint(third as ApiKeyRecord), keyFingerprint(second as ApiKeyRecord), 'a rotation changes the fingerprint')
    t.equal(await store.rotateKey('nope', FAKE_HASH, now, now), null, 'a missing key: null')
    await pollUntil('three key events', () => events.filter(id => id === record.id).length >= 3)
    t.pass('each rotation published an invalidation')
  })

  t.test('limit counters: exactly the limit is granted to concurrent takers, per window; replicas counted', async t => {
    const store = await makeStore(t, {})
    const bucket = `k:${Math.random().toString(36).slice(2)}:requests:0`
    const end = Date.now() + 60_000
    const grants = await Promise.all(Array.from({ length: 200 }, () => store.takeTokens(bucket, 50, 1, end)))
    t.equal(grants.reduce((a, b) => a + b, 0), 50, '200 concurrent takers of 1: exactly 50 granted')
    t.same(await store.tokensUsed([bucket, 'never-taken']), [50, 0])
    const other = `${bucket}-b`
    t.equal(await store.takeTokens(other, 25, 10, end), 10, 'a lease of 10')
    t.equal(await store.takeTokens(other, 25, 10, end), 10)
    t.equal(await store.takeTokens(other, 25, 10, end), 5, 'only what is left')
    t.equal(await store.takeTokens(other, 25, 10, end), 0, 'then none')
    const past = `${bucket}-past`
    t.equal(await store.takeTokens(past, 3, 3, Date.now() - 1), 3)
    t.equal((await store.tokensUsed([past]))[0], 0, 'a counter whose window is over reads as unused')
    const now = Date.now()
    t.equal(await store.announceReplica('r1', now, 30_000), 1)
    t.equal(await store.announceReplica('r2', now, 30_000), 2, 'two replicas alive')
    t.equal(await store.announceReplica('r1', now + 40_000, 30_000), 1, 'one not seen within the ttl is not counted')
  })

  t.test('records (OAuth mode): put, put-if-absent, get, delete, sets, expiry; a grant key keeps its client', async t => {
    const clock = new ManualClock()
    const store = await makeStore(t, { clock })
    t.equal(await store.getRecord('Client:nope'), null, 'a missing record → null')
    await store.putRecord('Client:a', '{"x":1}', null)
    t.equal(await store.getRecord('Client:a'), '{"x":1}', 'read back as written')
    await store.putRecord('Client:a', '{"x":2}', null)
    t.equal(await store.getRecord('Client:a'), '{"x":2}', 'a put replaces')
    t.equal(await store.putRecordIfAbsent('keys', 'first', null), 'first', 'absent: written, and returned')
    t.equal(await store.putRecordIfAbsent('keys', 'second', null), 'first', 'present: the stored one is returned')
    t.equal(await store.getRecord('keys'), 'first', 'and not replaced')
    const racers = await Promise.all(['r1', 'r2', 'r3', 'r4'].map(v => store.putRecordIfAbsent('raced', v, null)))
    t.equal(new Set(racers).size, 1, 'concurrent put-if-absent calls all get the one value stored')

    await store.addToRecordSet('grant:g1', 'RefreshToken:b', 60_000)
    await store.addToRecordSet('grant:g1', 'AccessToken:a', 60_000)
    await store.addToRecordSet('grant:g1', 'AccessToken:a', 60_000)
    t.same(await store.recordSetMembers('grant:g1'), ['AccessToken:a', 'RefreshToken:b'], 'members, each once, in order')
    t.same(await store.recordSetMembers('grant:none'), [], 'an unknown set is empty')
    await store.deleteRecords(['Client:a', 'grant:g1', 'never-there'])
    t.equal(await store.getRecord('Client:a'), null, 'deleted')
    t.same(await store.recordSetMembers('grant:g1'), [], 'a set is deleted by its name too')

    await store.putRecord('Session:s', 'short', 50)
    await store.addToRecordSet('grant:g2', 'x', 50)
    t.equal(await store.getRecord('Session:s'), 'short', 'live before its ttl')
    // The SQLite store follows the injected clock; Redis expires keys by its own.
    clock.advance(100)
    await pollUntil('the record to expire', async () => await store.getRecord('Session:s') === null)
    await pollUntil('the set to expire', async () => (await store.recordSetMembers('grant:g2')).length === 0)
    t.equal(await store.putRecordIfAbsent('Session:s', 'again', 1000), 'again', 'an expired record counts as absent')

    const owner = await store.createUser(newUser())
    const oauth = { clientId: 'https://app.example.com/client.json', clientName: 'ChatGPT', redirectHost: 'chatgpt.com' }
    const grant = keyRecord(owner.id, { name: 'OAuth · ChatGPT', oauth })
    await store.createKey(grant)
    t.same((await store.getKey(grant.id))?.oauth, oauth, 'a grant key reads back with its client')
    t.same((await store.getKeyWithOwner(grant.id))?.key.oauth, oauth, 'also on the auth path read')
    const plain = keyRecord(owner.id)
    await store.createKey(plain)
    t.notOk('oauth' in (await store.getKey(plain.id) as ApiKeyRecord), 'an ordinary key has no oauth field')
  })

  t.test('fingerprints are stable across reads and change with scope or expiry', async t => {
    const store = await makeStore(t, {})
    const owner = await store.createUser(newUser())
    const record = keyRecord(owner.id, { mcpServerIds: ['github'], expiresAt: Date.parse('2027-01-01T00:00:00Z') })
    await store.createKey(record)
    const first = await store.getKey(record.id)
    const second = await store.getKeyWithOwner(record.id)
    t.ok(first !== null && second !== null, 'both reads find the key')
    t.equal(keyFingerprint(first as ApiKeyRecord), keyFingerprint(record), 'the stored record has the written fingerprint')
    t.equal(keyFingerprint((second as { key: ApiKeyRecord }).key), keyFingerprint(record), 'getKeyWithOwner agrees')
    await store.recordLastUsed(new Map([[record.id, Date.now()]]))
    t.equal(keyFingerprint(await store.getKey(record.id) as ApiKeyRecord), keyFingerprint(record), 'lastUsedAt is not part of it')
    t.not(keyFingerprint({ ...record, mcpServerIds: ['github', 'jira'] }), keyFingerprint(record), 'scope changes it')
    t.not(keyFingerprint({ ...record, mcpServerIds: ['*'] }), keyFingerprint(record), 'wildcard scope changes it')
    t.not(keyFingerprint({ ...record, expiresAt: null }), keyFingerprint(record), 'expiry changes it')
    t.not(keyFingerprint({ ...record, secretHash: FAKE_HASH + 'x' }), keyFingerprint(record), 'the secret hash changes it')
  })
}

function omitId (e: AuditEvent | undefined): AuditEvent | undefined {
  if (e === undefined) return undefined
  const { id: _id, ...rest } = e
  return rest
}
