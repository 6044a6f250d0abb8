// The gateway as an OAuth resource server (OAuth mode): access tokens checked against the
// authorization server's keys (read from the shared store: no call to the AS per token), and the
// discovery documents clients start from — protected resource metadata per endpoint (RFC 9728) and
// pointers to the AS for clients that look for it on the MCP server's origin.
//
// A verified token is remembered by the sha256 of its signature (never the token itself) until it
// expires, so a token request costs what a cached key costs: one hash and one map lookup. What the token names
// (a key record) is then resolved by the Authenticator exactly as a key is.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { createLocalJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose'
import { LRUCache } from 'lru-cache'
import type { Config } from '../config/schema.ts'
import type { Clock } from '../core/clock.ts'
import { errors } from '../core/errors.ts'
import { keyDigest, type KeyDigest } from '../core/hashing.ts'
import { isValidKeyId } from '../core/key-format.ts'
import { ACCESS_TOKEN_TYP, authorizationServerPublic, endpointUrl, KEY_CLAIM, retentionMs, SIGNING_ALG, type VerificationKey } from '../core/oauth.ts'
import type { KeyStore } from '../core/store/store.ts'
import type { ServerRegistry } from './registry.ts'

export type TokenVerdict =
  | { ok: true, keyId: string }
  | { ok: false, error: 'KeyInvalid' | 'KeyExpired' }
  | { ok: false, error: 'StoreUnavailable', retryAfter: number }

interface VerifiedToken {
  keyId: string
  audiences: readonly string[]
  /** clock ms */
  expiresAt: number
}

interface AuthorizationServerView {
  issuer: string
  keys: JWTVerifyGetKey
  /** As read from the store, with when each stops verifying. */
  published: readonly VerificationKey[]
  /** When a key of `keys` stops verifying (a rotated-out key past its retention): `keys` is remade then. */
  changesAt: number
}

/** A token's `kid` the keys do not know makes the keys be read again, at most this often. */
const KEYS_RELOAD_MS = 5000
/**
 * The keys are read again when a token must be verified and they are older than this: a key
 * removed from oauth.signingKeyFile stops verifying even though its kid stays known here.
 */
const KEYS_MAX_AGE_MS = 30_000
const STORE_RETRY_AFTER_S = 2
/** Seconds of clock difference allowed between the AS and this replica. */
const CLOCK_TOLERANCE_S = 30
const MAX_TOKEN_LENGTH = 8192

/**
 * A bearer shaped like a compact JWS (three dot-separated parts): the only tokens OAuth mode
 * checks. Two indexOf calls, not a regex over the whole token on every request: what the parts
 * hold is the signature check's business, and a token seen before is found by its digest.
 */
export function isJwtShaped (token: string): boolean {
  if (token.length > MAX_TOKEN_LENGTH) return false
  const first = token.indexOf('.')
  if (first <= 0) return false
  const second = token.indexOf('.', first + 1)
  return second > first + 1 && second < token.length - 1 && token.indexOf('.', second + 1) < 0
}

export interface OAuthResourceOptions {
  store: KeyStore
  clock: Clock
  config: Readonly<Config>
  /** Verified tokens remembered (by sha256), at most. */
  maxTokens: number
}

export class OAuthResource {
  /** Signature verifications done (a token seen again within its lifetime costs none). */
  verifications = 0
  readonly #store: KeyStore
  readonly #clock: Clock
  readonly #config: Readonly<Config>
  readonly #verified: LRUCache<KeyDigest, VerifiedToken>
  /** gateway.publicUrl without its trailing slash, once; null: each request's own origin. */
  readonly #publicBase: string | null
  #as: AuthorizationServerView | null = null
  #loading: Promise<AuthorizationServerView | null> | null = null
  #loadedAt = Number.NEGATIVE_INFINITY

  constructor (options: OAuthResourceOptions) {
    this.#store = options.store
    this.#clock = options.clock
    this.#config = options.config
    this.#verified = new LRUCache({ max: options.maxTokens })
    this.#publicBase = options.config.gateway.publicUrl?.replace(/\/+$/, '') ?? null
  }

  /** The gateway's base URL as clients reach it: gateway.publicUrl, else the request's own origin. */
  base (request: FastifyRequest): string {
    return this.#publicBase ?? `${request.protocol}://${request.host}`
  }

  /** Where the protected resource metadata of this request's endpoint is (the 401's resource_metadata). */
  metadataUrl (request: FastifyRequest, serverId: string): string {
    return `${this.base(request)}/.well-known/oauth-protected-resource/mcp-connect/${serverId}`
  }

  /** The AS's issuer: configured (oauth.issuer, admin.publicUrl), else as the AS published it in the store. */
  async issuer (): Promise<string | null> {
    const configured = this.#config.oauth.issuer ?? this.#config.admin.publicUrl
    if (configured !== undefined) return configured.replace(/\/+$/, '')
    return (await this.#authorizationServer(false))?.issuer ?? null
  }

  /**
   * Checks an access token for the endpoint `audience`: signature (the AS's keys), `typ` at+jwt,
   * `iss`, `exp`, `aud` exactly this endpoint, and the key claim. Synchronous once the token was
   * verified before (a hash and a lookup).
   */
  check (token: string, audience: string): TokenVerdict | Promise<TokenVerdict> {
    // Remembered by the digest of its signature part, not of the whole token (~800 bytes, ~10k
    // instructions a request: 3 % of the request path). Sound: a cached verdict is what the
    // verified token says (its key, audience and expiry, never what a later token's payload
    // claims), and only a holder of that token knows its signature; a payload altered under the
    // same signature gains nothing over presenting the token itself.
    const digest = keyDigest(token.slice(token.lastIndexOf('.') + 1))
    const known = this.#verified.get(digest)
    if (known !== undefined) return this.#judge(known, audience)
    return this.#verify(token, digest, audience)
  }

  #judge (verified: VerifiedToken, audience: string): TokenVerdict {
    if (verified.expiresAt <= this.#clock.now()) return { ok: false, error: 'KeyExpired' }
    // RFC 8707 / MCP authorization: a token for another endpoint is refused, never passed on.
    if (!verified.audiences.includes(audience)) return { ok: false, error: 'KeyInvalid' }
    return { ok: true, keyId: verified.keyId }
  }

  async #verify (token: string, digest: KeyDigest, audience: string): Promise<TokenVerdict> {
    let as: AuthorizationServerView | null
    try {
      as = await this.#authorizationServer(false)
    } catch {
      return { ok: false, error: 'StoreUnavailable', retryAfter: STORE_RETRY_AFTER_S }
    }
    if (as === null) return { ok: false, error: 'KeyInvalid' }
    let payload: Record<string, unknown>
    try {
      payload = await this.#jwtVerify(token, as)
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_JWKS_NO_MATCHING_KEY') {
        // Keys may have changed (a new AS secret): read them again, at most every few seconds.
        try {
          as = await this.#authorizationServer(true)
          if (as === null) return { ok: false, error: 'KeyInvalid' }
          payload = await this.#jwtVerify(token, as)
        } catch (again) {
          return (again as { code?: string }).code === 'ERR_JWT_EXPIRED' ? { ok: false, error: 'KeyExpired' } : { ok: false, error: 'KeyInvalid' }
        }
      } else {
        return (err as { code?: string }).code === 'ERR_JWT_EXPIRED' ? { ok: false, error: 'KeyExpired' } : { ok: false, error: 'KeyInvalid' }
      }
    }
    const keyId = payload[KEY_CLAIM]
    const exp = payload.exp
    if (typeof keyId !== 'string' || !isValidKeyId(keyId) || typeof exp !== 'number') return { ok: false, error: 'KeyInvalid' }
    const aud = payload.aud
    const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : []
    const verified: VerifiedToken = { keyId, audiences, expiresAt: exp * 1000 }
    const ttl = verified.expiresAt - this.#clock.now()
    if (ttl > 0) this.#verified.set(digest, verified, { ttl })
    return this.#judge(verified, audience)
  }

  async #jwtVerify (token: string, as: AuthorizationServerView): Promise<Record<string, unknown>> {
    this.verifications++
    const { payload } = await jwtVerify(token, as.keys, {
      issuer: as.issuer,
      typ: ACCESS_TOKEN_TYP,
      algorithms: [SIGNING_ALG],
      requiredClaims: ['exp', 'aud', KEY_CLAIM],
      clockTolerance: CLOCK_TOLERANCE_S,
      currentDate: new Date(this.#clock.now())
    })
    return payload
  }

  async #authorizationServer (reload: boolean): Promise<AuthorizationServerView | null> {
    const now = this.#clock.now()
    // A retired key past its retention is dropped here, without a store read: it is refused even
    // while the keys are not read again (no unknown kid) or the store is down.
    const known = this.#as !== null && now >= this.#as.changesAt ? view(this.#as.issuer, this.#as.published, now) : this.#as
    this.#as = known
    if (known !== null && now - this.#loadedAt < (reload ? KEYS_RELOAD_MS : KEYS_MAX_AGE_MS)) return known
    this.#loading ??= (async () => {
      try {
        const found = await authorizationServerPublic(this.#store, retentionMs(this.#config.oauth.accessTokenTtlSeconds))
        if (found === null) return null
        const configured = this.#config.oauth.issuer ?? this.#config.admin.publicUrl
        this.#as = view(configured?.replace(/\/+$/, '') ?? found.issuer, found.keys, this.#clock.now())
        this.#loadedAt = this.#clock.now()
        return this.#as
      } finally {
        this.#loading = null
      }
    })()
    try {
      return await this.#loading
    } catch (err) {
      // The store down at a periodic re-read: the keys known keep verifying meanwhile.
      if (known !== null && !reload) return known
      throw err
    }
  }

  /** Forgets every verified token (tests, and a key change at the AS). */
  clear (): void {
    this.#verified.clear()
  }
}

/** The keys that verify at `now`, and when that changes next. */
function view (issuer: string, published: readonly VerificationKey[], now: number): AuthorizationServerView {
  const live = published.filter(k => k.verifyUntil === null || k.verifyUntil > now)
  const changesAt = Math.min(...live.map(k => k.verifyUntil ?? Number.POSITIVE_INFINITY))
  return { issuer, keys: createLocalJWKSet({ keys: live.map(k => k.jwk) }), published, changesAt }
}

/** Paths where clients look for the authorization server on the MCP server's origin (2025-03-26 clients). */
const AS_POINTERS: Record<string, string> = {
  '/.well-known/oauth-authorization-server': '/.well-known/oauth-authorization-server',
  '/.well-known/openid-configuration': '/.well-known/openid-configuration',
  '/authorize': '/oauth/authorize',
  '/token': '/oauth/token',
  '/register': '/oauth/register'
}

/**
 * OAuth mode's discovery: protected resource metadata per endpoint (RFC 9728 §3.1: the well-known
 * path with the resource's path appended; also under the endpoint, where some clients probe), and
 * 307s to the AS for the paths older clients assume on this origin. Unauthenticated, as discovery is.
 */
export function oauthDiscoveryRoutes (app: FastifyInstance, opts: { oauth: OAuthResource, registry: ServerRegistry, sendNoOAuth: (request: FastifyRequest, reply: FastifyReply) => FastifyReply }): void {
  const { oauth, registry } = opts
  async function metadata (request: FastifyRequest<{ Params: { serverId: string } }>, reply: FastifyReply) {
    const id = request.params.serverId
    const server = registry.get(id)
    if (server === undefined) throw new errors.ServerNotFound(id)
    const issuer = await oauth.issuer()
    if (issuer === null) {
      reply.header('retry-after', String(STORE_RETRY_AFTER_S))
      throw new errors.StoreUnavailable()
    }
    reply.header('cache-control', 'max-age=300')
    return {
      resource: endpointUrl(oauth.base(request), id),
      authorization_servers: [issuer],
      scopes_supported: ['mcp'],
      bearer_methods_supported: ['header'],
      resource_name: server.config.name ?? id
    }
  }
  app.get('/.well-known/oauth-protected-resource/mcp-connect/:serverId', metadata)
  app.get('/mcp-connect/:serverId/.well-known/oauth-protected-resource', metadata)
  for (const [path, target] of Object.entries(AS_POINTERS)) {
    app.all(path, async (request, reply) => {
      const issuer = await oauth.issuer()
      if (issuer === null) return opts.sendNoOAuth(request, reply)
      const q = request.url.indexOf('?')
      return reply.redirect(`${issuer}${target}${q < 0 ? '' : request.url.slice(q)}`, 307)
    })
  }
}
