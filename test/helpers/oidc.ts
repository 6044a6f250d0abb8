// A local OIDC issuer for tests: real key pairs (jose), a node:http server on 127.0.0.1:0 that
// serves the discovery document and the JWKS, key rotation by `kid`, and the forgeries the admin
// API must refuse (alg none, HS256 keyed with the public key, a key the JWKS never published).
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose'

export interface SignOptions {
  kid?: string
  alg?: string
  audience?: string
  issuer?: string
  /** Seconds since epoch used for iat/nbf/exp (default: now). */
  now?: number
  /** Lifetime in seconds (default 300); negative makes an already-expired token. */
  expiresIn?: number
  notBefore?: number
  omitExp?: boolean
}

export interface Identity {
  email?: string
  name?: string
  groups?: string[]
  [claim: string]: unknown
}

interface SigningKey {
  kid: string
  alg: string
  privateKey: CryptoKey
  publicJwk: JWK
  publicPem: string
}

export interface OidcIssuer {
  /** `http://127.0.0.1:<port>`; the token `iss` and the discovery document's issuer. */
  readonly issuer: string
  readonly jwksUrl: string
  readonly audience: string
  /** The kid new tokens are signed with. */
  readonly currentKid: string
  /** How many times the JWKS was fetched (to assert caching and refetch on rotation). */
  readonly jwksFetches: number
  sign(identity: Identity, opts?: SignOptions): Promise<string>
  /** Generates a key, publishes it and makes it the signing key; returns its kid. */
  rotate(opts?: { retireOld?: boolean }): Promise<string>
  /** Signed by a key that the JWKS does not publish, under the given kid (or the rogue key's own). */
  signWithUnpublishedKey(identity: Identity, opts?: SignOptions & { kid?: string }): Promise<string>
  /** HS256 "signed" with the current public key as HMAC secret (the classic alg confusion). */
  forgeHs256(identity: Identity, opts?: SignOptions): Promise<string>
  /** `alg: none`, empty signature. */
  unsigned(identity: Identity, opts?: SignOptions): string
  close(): Promise<void>
}

async function newKey (alg: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  const kid = `k${Math.random().toString(36).slice(2, 10)}`
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }
  return { kid, alg, privateKey, publicJwk, publicPem: await exportSPKI(publicKey) }
}

function b64url (value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

export async function startOidcIssuer (options: { audience?: string, alg?: string } = {}): Promise<OidcIssuer> {
  const alg = options.alg ?? 'RS256'
  const audience = options.audience ?? 'mcpgate'
  const published: SigningKey[] = [await newKey(alg)]
  let current = published[0] as SigningKey
  let jwksFetches = 0
  let rogue: SigningKey | undefined
  let issuer = ''

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (path === '/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({
        issuer,
        jwks_uri: `${issuer}/jwks`,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        id_token_signing_alg_values_supported: [alg],
        response_types_supported: ['code'],
        subject_types_supported: ['public']
      }))
      return
    }
    if (path === '/jwks') {
      jwksFetches++
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ keys: published.map(k => k.publicJwk) }))
      return
    }
    res.writeHead(404).end()
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  function claims (identity: Identity, opts: SignOptions): JWTPayload {
    const now = opts.now ?? Math.floor(Date.now() / 1000)
    const payload: JWTPayload = {
      // As a real IdP: one stable subject per account (here: per email, whatever its case), and
      // a verified email (Google, Okta, Auth0 and Keycloak send `email_verified: true` for
      // those). Pass `sub`, or `email_verified: false` or `undefined` (left out), to differ.
      sub: identity.email?.toLowerCase() ?? 'subject',
      email_verified: true,
      ...identity,
      iss: opts.issuer ?? issuer,
      aud: opts.audience ?? audience,
      iat: now
    }
    if (opts.notBefore !== undefined) payload.nbf = opts.notBefore
    if (opts.omitExp !== true) payload.exp = now + (opts.expiresIn ?? 300)
    return payload
  }

  async function signWith (key: SigningKey, kid: string, identity: Identity, opts: SignOptions): Promise<string> {
    return new SignJWT(claims(identity, opts))
      .setProtectedHeader({ alg: opts.alg ?? key.alg, kid, typ: 'JWT' })
      .sign(key.privateKey)
  }

  return {
    get issuer () { return issuer },
    get jwksUrl () { return `${issuer}/jwks` },
    audience,
    get currentKid () { return current.kid },
    get jwksFetches () { return jwksFetches },
    async sign (identity, opts = {}) {
      return signWith(current, opts.kid ?? current.kid, identity, opts)
    },
    async rotate ({ retireOld = false } = {}) {
      const next = await newKey(alg)
      if (retireOld) published.splice(0, published.length)
      published.push(next)
      current = next
      return next.kid
    },
    async signWithUnpublishedKey (identity, opts = {}) {
      // One rogue key per issuer (RSA generation is slow); pass `kid` to vary the header.
      rogue ??= await newKey(alg)
      return signWith(rogue, opts.kid ?? rogue.kid, identity, opts)
    },
    async forgeHs256 (identity, opts = {}) {
      return new SignJWT(claims(identity, opts))
        .setProtectedHeader({ alg: 'HS256', kid: current.kid, typ: 'JWT' })
        .sign(new TextEncoder().encode(current.publicPem))
    },
    unsigned (identity, opts = {}) {
      return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims(identity, opts))}.`
    },
    async close () {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}
