// Authorization matrix of every admin API route that takes an id: each caller (owner, another
// user, an OIDC admin-group user, the bootstrap token, an API key, nobody, and four kinds of bad
// JWT) against an existing resource, someone else's and a missing one. BOLA never succeeds: a
// refused call leaves the target untouched and never shows its data.
import t, { type Test } from 'tap'
import { ADMIN_GROUP, ADMIN_TOKEN, startAdmin, testConfig, type AdminHarness } from '../helpers/admin.ts'
import { startOidcIssuer, type OidcIssuer } from '../helpers/oidc.ts'

type Caller = 'owner' | 'other' | 'admin' | 'bootstrap' | 'apiKeyBearer' | 'apiKeyHeader' | 'none' | 'expiredJwt' | 'forgedJwt' | 'wrongAudienceJwt' | 'algNoneJwt'
type Target = 'existing' | 'others' | 'missing'

const CALLERS: Caller[] = ['owner', 'other', 'admin', 'bootstrap', 'apiKeyBearer', 'apiKeyHeader', 'none', 'expiredJwt', 'forgedJwt', 'wrongAudienceJwt', 'algNoneJwt']
const TARGETS: Target[] = ['existing', 'others', 'missing']
const MISSING_KEY_ID = 'AAAAAAAAAAAAAAAA'
const MISSING_USER_ID = 'nosuchuser0'

const OWNER = { email: 'owner@example.com', name: 'Owner' }
const OTHER = { email: 'other@example.com', name: 'Other' }
const ADMIN = { email: 'boss@example.com', name: 'Boss', groups: [ADMIN_GROUP] }

interface Ctx {
  h: AdminHarness
  idp: OidcIssuer
  tokens: Record<Caller, { authorization?: string, 'x-api-key'?: string }>
}

async function setup (t: Test): Promise<Ctx> {
  const idp = await startOidcIssuer()
  t.teardown(() => idp.close())
  // Hundreds of bad JWTs from one IP: the failure budget (its own test) is raised out of the way.
  const h = await startAdmin(t, { config: testConfig({ admin: { maxKeysPerUser: 100000, authFailuresPerIp: 100000 } }, idp) })
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
  const owner = await idp.sign(OWNER, { expiresIn: 3600 })
  // A real API key of the owner: valid at the gateway, refused here.
  const ownerId = await userIdOf({ h, tokens: { owner: bearer(owner) } as Ctx['tokens'], idp }, 'owner')
  const { key } = await h.service.createKey(ownerId, { name: 'owner key for the gateway', mcpServerIds: ['alpha'] })
  const tokens: Ctx['tokens'] = {
    owner: bearer(owner),
    other: bearer(await idp.sign(OTHER, { expiresIn: 3600 })),
    admin: bearer(await idp.sign(ADMIN, { expiresIn: 3600 })),
    bootstrap: bearer(ADMIN_TOKEN),
    apiKeyBearer: bearer(key),
    apiKeyHeader: { 'x-api-key': key },
    none: {},
    expiredJwt: bearer(await idp.sign(OWNER, { expiresIn: -120 })),
    forgedJwt: bearer(await idp.signWithUnpublishedKey(OWNER, { kid: idp.currentKid })),
    wrongAudienceJwt: bearer(await idp.sign(OWNER, { audience: 'some-other-api' })),
    algNoneJwt: bearer(idp.unsigned(OWNER))
  }
  return { h, idp, tokens }
}

/** The user's current id; signing in provisions them again if a test deleted them. */
async function userIdOf (ctx: Pick<Ctx, 'h' | 'tokens' | 'idp'>, who: 'owner' | 'other' | 'admin'): Promise<string> {
  const res = await ctx.h.app.inject({ method: 'GET', url: '/api/me', headers: ctx.tokens[who] })
  if (res.statusCode !== 200) throw new Error(`sign-in of ${who} failed: ${res.statusCode} ${res.body}`)
  return res.json().user.id
}

function unauthenticated (caller: Caller): number | null {
  if (['apiKeyBearer', 'apiKeyHeader', 'none', 'expiredJwt', 'forgedJwt', 'wrongAudienceJwt', 'algNoneJwt'].includes(caller)) return 401
  return null
}

const EXPECTED_CODE_401: Partial<Record<Caller, string>> = {
  apiKeyBearer: 'MCPGATE_API_KEY_NOT_ACCEPTED',
  apiKeyHeader: 'MCPGATE_API_KEY_NOT_ACCEPTED',
  none: 'MCPGATE_UNAUTHENTICATED',
  expiredJwt: 'MCPGATE_TOKEN_INVALID',
  forgedJwt: 'MCPGATE_TOKEN_INVALID',
  wrongAudienceJwt: 'MCPGATE_TOKEN_INVALID',
  algNoneJwt: 'MCPGATE_TOKEN_INVALID'
}

interface KeyRoute {
  name: string
  method: 'GET' | 'DELETE'
  path: (id: string) => string
  admin: boolean
  ok: number
}

const KEY_ROUTES: KeyRoute[] = [
  { name: 'GET /api/api-keys/:id', method: 'GET', path: id => `/api/api-keys/${id}`, admin: false, ok: 200 },
  { name: 'DELETE /api/api-keys/:id', method: 'DELETE', path: id => `/api/api-keys/${id}`, admin: false, ok: 204 },
  { name: 'GET /api/admin-api-keys/:id', method: 'GET', path: id => `/api/admin-api-keys/${id}`, admin: true, ok: 200 },
  { name: 'DELETE /api/admin-api-keys/:id', method: 'DELETE', path: id => `/api/admin-api-keys/${id}`, admin: true, ok: 204 }
]

/** Key targets: "existing" is the caller's own key (the owner's for callers without keys), "others" another user's. */
function expectedForKey (route: KeyRoute, caller: Caller, target: Target): number {
  const u = unauthenticated(caller)
  if (u !== null) return u
  if (route.admin) {
    if (caller === 'owner' || caller === 'other') return 403
    return target === 'missing' ? 404 : route.ok
  }
  // Own-key routes: only the owner of the key, never an admin or the bootstrap token.
  if ((caller === 'owner' || caller === 'other') && target === 'existing') return route.ok
  return 404
}

t.test('routes on API keys', async t => {
  const ctx = await setup(t)
  const { h, tokens } = ctx
  for (const route of KEY_ROUTES) {
    for (const caller of CALLERS) {
      for (const target of TARGETS) {
        // Fresh keys per cell, since a DELETE that should fail must be seen to leave them alone.
        const ownerId = await userIdOf(ctx, 'owner')
        const otherId = await userIdOf(ctx, 'other')
        const mine = caller === 'other' ? otherId : ownerId
        const theirs = caller === 'other' ? ownerId : otherId
        const ownKey = (await h.service.createKey(mine, { name: `k-${caller}-${target}-own`, mcpServerIds: ['alpha'] })).record
        const theirKey = (await h.service.createKey(theirs, { name: `k-${caller}-${target}-theirs`, mcpServerIds: ['alpha'] })).record
        const id = target === 'existing' ? ownKey.id : target === 'others' ? theirKey.id : MISSING_KEY_ID
        const subject = target === 'existing' ? ownKey : target === 'others' ? theirKey : null

        const res = await h.request({ method: route.method, url: route.path(id), headers: tokens[caller] as Record<string, string> })
        const want = expectedForKey(route, caller, target)
        const label = `${route.name} as ${caller} on ${target}`
        t.equal(res.statusCode, want, label)
        if (want === 401) t.equal(res.json().code, EXPECTED_CODE_401[caller], `${label}: code`)
        if (subject !== null) {
          const stillThere = await h.store.getKey(subject.id)
          if (want === 204) t.equal(stillThere, null, `${label}: deleted`)
          else t.not(stillThere, null, `${label}: untouched`)
          if (res.statusCode >= 400) t.notMatch(res.body, subject.name, `${label}: no data of the target`)
        }
      }
    }
  }
})

interface UserRoute {
  name: string
  method: 'GET' | 'PATCH' | 'DELETE' | 'POST'
  path: (id: string) => string
  body?: unknown
  ok: number
}

const USER_ROUTES: UserRoute[] = [
  { name: 'GET /api/users/:id', method: 'GET', path: id => `/api/users/${id}`, ok: 200 },
  { name: 'PATCH /api/users/:id', method: 'PATCH', path: id => `/api/users/${id}`, body: { role: 'admin' }, ok: 200 },
  { name: 'DELETE /api/users/:id', method: 'DELETE', path: id => `/api/users/${id}`, ok: 204 },
  { name: 'POST /api/users/:id/api-keys', method: 'POST', path: id => `/api/users/${id}/api-keys`, body: { name: 'svc', mcpServerIds: ['alpha'] }, ok: 201 }
]

/** User targets: "existing" is the caller's own record (privilege escalation), "others" another user. */
function expectedForUser (route: UserRoute, caller: Caller, target: Target): number {
  const u = unauthenticated(caller)
  if (u !== null) return u
  if (caller === 'owner' || caller === 'other') return 403
  return target === 'missing' ? 404 : route.ok
}

t.test('routes on users', async t => {
  const ctx = await setup(t)
  const { h, tokens } = ctx
  for (const route of USER_ROUTES) {
    for (const caller of CALLERS) {
      for (const target of TARGETS) {
        // An admin's PATCH {role: admin} in an earlier cell must not make later callers admins.
        for (const who of ['owner', 'other'] as const) {
          const id = await userIdOf(ctx, who)
          if ((await h.store.getUser(id))?.role !== 'user') await h.store.updateUser(id, { role: 'user' })
        }
        // The callers' own records for "existing"; a fresh service account for "others".
        const self = caller === 'other' ? await userIdOf(ctx, 'other') : caller === 'admin' ? await userIdOf(ctx, 'admin') : await userIdOf(ctx, 'owner')
        const victim = await h.service.createUser({ email: `svc-${route.method}-${caller}-${target}@example.com`, name: 'Victim' })
        const id = target === 'existing' ? self : target === 'others' ? victim.id : MISSING_USER_ID
        const before = target === 'missing' ? null : await h.store.getUser(id)
        const keysBefore = target === 'missing' ? 0 : await h.store.countKeys(id)

        const res = await h.request({ method: route.method, url: route.path(id), headers: tokens[caller] as Record<string, string>, ...(route.body === undefined ? {} : { body: route.body }) })
        const want = expectedForUser(route, caller, target)
        const label = `${route.name} as ${caller} on ${target}`
        t.equal(res.statusCode, want, label)
        if (want === 401) t.equal(res.json().code, EXPECTED_CODE_401[caller], `${label}: code`)
        if (before !== null && res.statusCode >= 400) {
          t.same(await h.store.getUser(id), before, `${label}: user untouched`)
          t.equal(await h.store.countKeys(id), keysBefore, `${label}: no key created`)
          t.notMatch(res.body, before.email, `${label}: no data of the target`)
        }
      }
    }
  }
})

// Routes without an id: who may call them at all.
const PLAIN_ROUTES: Array<{ method: 'GET' | 'POST', url: string, body?: unknown, admin: boolean, ok: number }> = [
  { method: 'GET', url: '/api/me', admin: false, ok: 200 },
  { method: 'GET', url: '/api/mcp-servers', admin: false, ok: 200 },
  { method: 'GET', url: '/api/api-keys', admin: false, ok: 200 },
  { method: 'POST', url: '/api/api-keys', body: { name: 'mine', mcpServerIds: ['alpha'] }, admin: false, ok: 201 },
  { method: 'GET', url: '/api/admin-api-keys', admin: true, ok: 200 },
  { method: 'GET', url: '/api/users', admin: true, ok: 200 },
  { method: 'POST', url: '/api/users', admin: true, ok: 201 }
]

t.test('routes without an id', async t => {
  const ctx = await setup(t)
  const { h, tokens } = ctx
  let n = 0
  for (const route of PLAIN_ROUTES) {
    for (const caller of CALLERS) {
      const body = route.url === '/api/users' ? { email: `new-${n++}@example.com` } : route.body
      const res = await h.request({ method: route.method, url: route.url, headers: tokens[caller] as Record<string, string>, ...(body === undefined ? {} : { body }) })
      let want = unauthenticated(caller) ?? (route.admin && (caller === 'owner' || caller === 'other') ? 403 : route.ok)
      // The bootstrap token is not a user and owns no keys.
      if (caller === 'bootstrap' && route.method === 'POST' && route.url === '/api/api-keys') want = 403
      t.equal(res.statusCode, want, `${route.method} ${route.url} as ${caller}`)
      if (want === 401) {
        t.equal(res.json().code, EXPECTED_CODE_401[caller], `${route.method} ${route.url} as ${caller}: code`)
        t.match(String(res.headers['www-authenticate']), /^Bearer realm="mcpgate-admin"/, 'WWW-Authenticate on 401')
      }
      if (want === 403) t.match(res.json().code, /^MCPGATE_(FORBIDDEN|NO_USER_ACCOUNT)$/)
    }
  }
  // A user's own listing never shows another user's keys.
  const otherId = await userIdOf(ctx, 'other')
  await h.service.createKey(otherId, { name: 'secret-project-of-other', mcpServerIds: ['alpha'] })
  const mine = await h.request({ method: 'GET', url: '/api/api-keys', headers: tokens.owner as Record<string, string> })
  t.notMatch(mine.body, 'secret-project-of-other', 'own listing excludes other users\' keys')
  t.ok(mine.json().items.every((k: { userId: string }) => k.userId !== otherId))
})
