// OAuth mode in the bench: an access token for a seeded key, signed with the authorization
// server's key from the store, as the AS issues one for client_credentials (bench/variants.ts
// `"$token": true`). Only the gateway's side is measured: the token is minted here, not fetched.
import { importJWK, SignJWT } from 'jose'
import { ACCESS_TOKEN_TYP, authorizationServerSecrets, KEY_CLAIM, publishIssuer, SIGNING_ALG } from '../core/oauth.ts'
import type { KeyStore } from '../core/store/store.ts'

/** The issuer a `$token` variant's config names (no AS runs: the gateway reads the keys from the store). */
export const BENCH_ISSUER = 'http://as.bench.invalid'

/** What a `$token` variant adds to its config: OAuth mode (which needs admin.oidc to validate). */
export const OAUTH_CONFIG = {
  oauth: { enabled: true, issuer: BENCH_ISSUER },
  admin: { oidc: { issuer: 'http://idp.bench.invalid', audience: 'bench' } }
}

/** A JWT access token standing for `keyId`, bound to `audience` (the endpoint URL), valid for `ttlS`. */
export async function mintAccessToken (store: KeyStore, opts: { keyId: string, audience: string, ttlS?: number }): Promise<string> {
  const { keys } = await authorizationServerSecrets(store)
  await publishIssuer(store, BENCH_ISSUER)
  const jwk = keys[0]
  if (jwk === undefined) throw new Error('no signing key')
  const now = Math.floor(Date.now() / 1000)
  return await new SignJWT({ [KEY_CLAIM]: opts.keyId, client_id: opts.keyId, scope: 'mcp' })
    .setProtectedHeader({ alg: SIGNING_ALG, typ: ACCESS_TOKEN_TYP, kid: String(jwk.kid) })
    .setIssuer(BENCH_ISSUER)
    .setAudience(opts.audience)
    .setIssuedAt(now)
    .setExpirationTime(now + (opts.ttlS ?? 3600))
    .setJti(`bench-${now}`)
    .sign(await importJWK(jwk, SIGNING_ALG))
}
