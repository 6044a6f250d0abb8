// Who is calling the admin API: the bootstrap admin token, or a user holding an OIDC JWT from
// the configured issuer (verified against its JWKS; matched by the token's issuer and subject,
// linked or provisioned by verified email on first use). API keys are refused here on purpose: a
// leaked key must not be able to mint more keys.
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose'
import type { Config } from '../config/schema.ts'
import { systemClock, type Clock } from '../core/clock.ts'
import { parseEmail } from '../core/email.ts'
import { errors, StoreConflictError } from '../core/errors.ts'
import { safeEqualString } from '../core/hashing.ts'
import { KEY_PREFIX } from '../core/key-format.ts'
import type { KeyStore, OidcIdentity, Role, User, UserPatch } from '../core/store/store.ts'

export type Principal =
  | { kind: 'admin-token', role: 'admin', user: null }
  | { kind: 'oidc', role: Role, user: User }

/** A user record written while signing in, for the audit log. */
export interface UserChange {
  event: 'user.created' | 'user.updated'
  fields: string[]
}

export interface Authenticated {
  principal: Principal
  change?: UserChange
}

export const ADMIN_TOKEN_PRINCIPAL: Principal = Object.freeze({ kind: 'admin-token', role: 'admin', user: null })

/** Why authentication failed, for the audit log (never the credential itself). */
export class AuthenticationFailure extends Error {
  constructor (readonly reason: string, readonly error: Error) {
    super(reason)
    this.name = 'AuthenticationFailure'
  }
}

export interface AuthenticatorOptions {
  config: Readonly<Config>
  store: KeyStore
  clock?: Clock
  /** Overrides config.admin.token (the CLI may take it from elsewhere). */
  adminToken?: string
  /**
   * How long after a JWKS fetch an unknown `kid` may trigger another fetch (jose's default:
   * 30 s). The cooldown stops a flood of made-up kids from hammering the IdP.
   */
  jwksCooldownMs?: number
}

export interface RequestCredentials {
  authorization?: string | string[] | undefined
  'x-api-key'?: string | string[] | undefined
}

// jose errors that mean "this token is not acceptable" (401). Anything else raised while
// verifying (JWKS fetch failed, timed out, was not JSON) is the IdP's problem: 503.
const TOKEN_ERROR_CODES = new Set([
  joseErrors.JWTExpired.code,
  joseErrors.JWTClaimValidationFailed.code,
  joseErrors.JWTInvalid.code,
  joseErrors.JWSInvalid.code,
  joseErrors.JWSSignatureVerificationFailed.code,
  joseErrors.JOSEAlgNotAllowed.code,
  joseErrors.JOSENotSupported.code,
  joseErrors.JWKSNoMatchingKey.code,
  joseErrors.JWKSMultipleMatchingKeys.code,
  joseErrors.JWKInvalid.code
])

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/
const TOKEN_MAX = 16384

function first (value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

/** A claim by exact name (e.g. Auth0's `https://example.com/groups`), else a dotted path (Keycloak's `realm_access.roles`). */
function claim (payload: JWTPayload, name: string): unknown {
  if (Object.hasOwn(payload, name)) return payload[name]
  let cur: unknown = payload
  for (const part of name.split('.')) {
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, part)) return undefined
    cur = (cur as Record<string, unknown>)[part]
  }
  return cur
}

function groupsFrom (value: unknown): string[] {
  const list = typeof value === 'string' ? [value] : Array.isArray(value) ? value : []
  const out: string[] = []
  for (const g of list) if (typeof g === 'string' && g.length > 0 && g.length <= 200 && !out.includes(g)) out.push(g)
  return out.slice(0, 500)
}

function sameSet (a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every(x => b.includes(x))
}

export function createAuthenticator (opts: AuthenticatorOptions) {
  const { config, store } = opts
  const clock = opts.clock ?? systemClock
  const adminToken = opts.adminToken ?? config.admin.token
  const oidc = config.admin.oidc
  let jwks: Promise<ReturnType<typeof createRemoteJWKSet>> | null = null

  function fail (reason: string, error: Error): never {
    throw new AuthenticationFailure(reason, error)
  }

  /** The JWKS resolver, from config.jwksUrl or the issuer's discovery document (fetched once). */
  function keySet (): Promise<ReturnType<typeof createRemoteJWKSet>> {
    if (oidc === undefined) throw new Error('OIDC is not configured')
    if (jwks === null) {
      const options = { cooldownDuration: opts.jwksCooldownMs ?? 30_000, timeoutDuration: 5000 }
      jwks = (async () => {
        if (oidc.jwksUrl !== undefined) return createRemoteJWKSet(new URL(oidc.jwksUrl), options)
        const base = oidc.issuer.endsWith('/') ? oidc.issuer : oidc.issuer + '/'
        const res = await fetch(new URL('.well-known/openid-configuration', base), { signal: AbortSignal.timeout(5000) })
        if (!res.ok) throw new Error(`OIDC discovery answered ${res.status}`)
        const doc = await res.json() as { issuer?: unknown, jwks_uri?: unknown }
        // OIDC Discovery §4.3: the document's issuer must be exactly the configured one.
        if (doc.issuer !== oidc.issuer) throw new Error('OIDC discovery document names a different issuer')
        if (typeof doc.jwks_uri !== 'string' || !/^https?:\/\//.test(doc.jwks_uri)) throw new Error('OIDC discovery document has no http(s) jwks_uri')
        return createRemoteJWKSet(new URL(doc.jwks_uri), options)
      })()
      // A failed discovery is retried on the next request instead of being cached forever.
      jwks.catch(() => { jwks = null })
    }
    return jwks
  }

  async function verify (token: string): Promise<JWTPayload> {
    if (oidc === undefined) fail('unknown bearer token (OIDC not configured)', new errors.TokenInvalid())
    if (token.length > TOKEN_MAX || !JWT_SHAPE.test(token)) fail('bearer token is not a JWT', new errors.TokenInvalid())
    try {
      const { payload } = await jwtVerify(token, await keySet(), {
        issuer: oidc.issuer,
        audience: oidc.audience,
        // An explicit allowlist: `alg: none` and HS256 forgeries (an RSA public key used as an
        // HMAC secret) never reach signature checking.
        algorithms: [...oidc.algorithms],
        requiredClaims: ['exp'],
        currentDate: new Date(clock.now()),
        clockTolerance: 30
      })
      return payload
    } catch (err) {
      const code = (err as { code?: unknown }).code
      if (typeof code === 'string' && TOKEN_ERROR_CODES.has(code)) fail(`JWT rejected (${code})`, new errors.TokenInvalid())
      throw new errors.IdentityProviderUnavailable({ cause: err })
    }
  }

  /**
   * The IdP is the source of truth for groups when the token carries the claim. The role follows
   * admin groups only where it came from them: an admin made by PATCH stays admin, one who was
   * admin by group membership loses it when leaving the group.
   */
  async function refresh (user: User, payload: JWTPayload, linked: boolean): Promise<{ user: User, change?: UserChange }> {
    if (oidc === undefined) throw new Error('OIDC is not configured')
    const linkChange = linked ? { user, change: { event: 'user.updated', fields: ['identity'] } satisfies UserChange } : { user }
    const groupsClaim = claim(payload, oidc.claims.groups)
    if (groupsClaim === undefined) return linkChange
    const groups = groupsFrom(groupsClaim)
    const inAdminGroup = groups.some(g => oidc.adminGroups.includes(g))
    const patch: UserPatch = {}
    if (!sameSet(user.groups, groups)) patch.groups = groups
    const wasAdminByGroup = user.groups.some(g => oidc.adminGroups.includes(g))
    if (inAdminGroup && user.role !== 'admin') patch.role = 'admin'
    if (!inAdminGroup && wasAdminByGroup && user.role === 'admin') patch.role = 'user'
    if (Object.keys(patch).length === 0) return linkChange
    const updated = await store.updateUser(user.id, patch)
    if (updated === null) return linkChange
    return { user: updated, change: { event: 'user.updated', fields: [...(linked ? ['identity'] : []), ...Object.keys(patch)] } }
  }

  /** A claim an IdP sets to say the email is verified: `true` (some send the string "true"). */
  function emailVerified (payload: JWTPayload): boolean {
    if (oidc === undefined) return false
    const value = claim(payload, oidc.claims.emailVerified)
    return value === true || value === 'true'
  }

  /**
   * Who the token is. Matched by its (issuer, sub), never by email alone: an email is an attribute
   * the IdP may let its users set, and a second IdP account can carry the same one. An identity
   * not linked yet is tied to an account by its email only when the IdP says that email is
   * verified — a new account is created with the link, an existing one (made by an admin, or
   * linked under a previous issuer) gets it. Unverified, nothing is created: the email decides
   * server access rules (`access.users`) and goes upstream in x-mcpgate-user-email, so an
   * account under an email nobody proved would hold what the address's real owner is granted.
   */
  async function signIn (payload: JWTPayload): Promise<{ user: User, change?: UserChange }> {
    if (oidc === undefined) throw new Error('OIDC is not configured')
    const subject = payload.sub
    // OIDC Core §2: sub is a case-sensitive string of at most 255 ASCII characters.
    if (typeof subject !== 'string' || subject.length < 1 || subject.length > 255) fail('JWT has no usable "sub" claim', new errors.TokenInvalid())
    // jwtVerify checked that `iss` is exactly the configured issuer.
    const identity: OidcIdentity = { issuer: oidc.issuer, subject }
    const linked = await store.getUserByIdentity(identity)
    if (linked !== null && linked.kind === 'service') fail('the identity is linked to a service account', new errors.ServiceAccountSignIn())
    if (linked !== null) return refresh(linked, payload, false)

    const rawEmail = claim(payload, oidc.claims.email)
    if (typeof rawEmail !== 'string') fail(`JWT has no "${oidc.claims.email}" claim`, new errors.TokenInvalid())
    const parsed = parseEmail(rawEmail)
    if (!parsed.ok) fail(`JWT email claim is not an acceptable email address (${parsed.problem})`, new errors.TokenInvalid())
    const email = parsed.email
    if (!emailVerified(payload)) fail(`JWT email is not verified (claim "${oidc.claims.emailVerified}")`, new errors.EmailNotVerified())

    // Each round reads, then writes conditionally; a write that lost a race reads again. Three
    // rounds cover every interleaving of one concurrent create and one concurrent link.
    for (let round = 0; round < 3; round++) {
      const existing = await store.getUserByEmail(email)
      if (existing === null) {
        const rawName = claim(payload, oidc.claims.name)
        const name = typeof rawName === 'string' && rawName.trim() !== '' ? rawName.trim().slice(0, 200) : email
        const groups = groupsFrom(claim(payload, oidc.claims.groups))
        const role = groups.some(g => oidc.adminGroups.includes(g)) ? 'admin' : 'user'
        try {
          const user = await store.createUser({ email, name, role, groups, identity })
          return { user, change: { event: 'user.created', fields: ['email', 'name', 'role', 'groups', 'identity'] } }
        } catch (err) {
          if (!(err instanceof StoreConflictError)) throw err
          // A concurrent first sign-in of this identity created the user: use it. Otherwise the
          // email was taken meanwhile: go round and link to that account, or refuse.
          const raced = await store.getUserByIdentity(identity)
          if (raced !== null) return refresh(raced, payload, false)
          continue
        }
      }
      if (existing.kind === 'service') fail('the account of this email is a service account', new errors.ServiceAccountSignIn())
      const current = existing.identity ?? null
      // One identity per issuer per account: a second subject with the same email is another
      // person (or another IdP account) as far as the IdP can tell.
      if (current !== null && current.issuer === identity.issuer) {
        if (current.subject === identity.subject) return refresh(existing, payload, false)
        fail('the account of this email is linked to another subject', new errors.IdentityConflict())
      }
      // Nothing is written to a disabled account; authenticate() refuses it either way.
      if (existing.disabled) return { user: existing }
      try {
        const user = await store.linkIdentity(existing.id, identity, current)
        if (user !== null) return refresh(user, payload, true)
      } catch (err) {
        if (!(err instanceof StoreConflictError)) throw err
        const raced = await store.getUserByIdentity(identity)
        if (raced !== null) return refresh(raced, payload, false)
      }
    }
    fail('the account of this email kept changing while linking', new errors.IdentityConflict())
  }

  /**
   * Resolves the caller or throws: AuthenticationFailure (401/403 to send, with a reason to
   * audit), or an availability error (store or IdP down → 503).
   */
  async function authenticate (headers: RequestCredentials): Promise<Authenticated> {
    if (first(headers['x-api-key']) !== undefined) fail('API key sent in X-API-Key', new errors.ApiKeyNotAccepted())
    const authorization = first(headers.authorization)
    if (authorization === undefined || authorization.trim() === '') fail('no credentials', new errors.Unauthenticated())
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization)
    if (m === null) fail('authorization is not a Bearer token', new errors.Unauthenticated())
    const token = m[1] as string
    if (token.startsWith(KEY_PREFIX + '-')) fail('API key sent as bearer token', new errors.ApiKeyNotAccepted())
    // Always compare (constant time) so timing does not tell whether a token is configured.
    if (safeEqualString(token, adminToken ?? '\u0000no-admin-token') && adminToken !== undefined) return { principal: ADMIN_TOKEN_PRINCIPAL }
    const { user, change } = await signIn(await verify(token))
    if (user.disabled) fail('user is disabled', new errors.UserDisabled())
    return { principal: { kind: 'oidc', role: user.role, user }, ...(change === undefined ? {} : { change }) }
  }

  return { authenticate }
}

export type Authenticator = ReturnType<typeof createAuthenticator>
