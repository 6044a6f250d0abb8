// Sign-in: OpenID Connect authorization code + PKCE as a public client (no secret in the
// browser), or a pasted bootstrap admin token; sign-out ends the IdP's session too where it offers
// RP-initiated logout. The protocol is oauth4webapi's (discovery, PKCE, the authorization response,
// the token requests and the ID token's claims: iss, aud, azp, exp, iat, nonce); this file keeps
// the console's choices. The session lives in sessionStorage only: it dies with the tab, and
// nothing credential-like ever goes to localStorage.
import * as oauth from 'oauth4webapi'

export interface OidcSettings {
  issuer: string
  clientId: string
  scopes: string[]
  /** The audience the admin API verifies; an access token is used only when it is a JWT for it. */
  audience?: string
}

export interface ConsoleConfig {
  oidc: OidcSettings | null
  gatewayUrl: string
}

export interface Session {
  kind: 'oidc' | 'token'
  token: string
  /** Epoch ms; null when unknown (admin token). */
  expiresAt: number | null
  /** OIDC: renews the token before it expires (many IdPs issue 5-minute ID tokens). */
  refreshToken?: string
  tokenEndpoint?: string
  /** OIDC: the issuer as its discovery document names it (ID tokens must carry exactly it). */
  issuer?: string
  /** OIDC: the latest ID token, the id_token_hint of the sign-out. */
  idToken?: string
  /** OIDC: where the IdP ends its own session (RP-initiated logout), when it offers that. */
  endSessionEndpoint?: string
}

const SESSION_KEY = 'mcpgate.session'
const PENDING_KEY = 'mcpgate.oidc.pending'

/**
 * A browser's clock may be minutes off: ID token times are checked against it with this leeway
 * (oidc-client-ts's default too). The admin API checks the token that matters, with its own clock.
 */
const CLOCK_TOLERANCE_S = 300

/** What the redirect must find again (the IdP's metadata, the PKCE verifier, state and nonce). */
interface PendingLogin {
  state: string
  nonce: string
  verifier: string
  redirectUri: string
  as: oauth.AuthorizationServer
  returnTo: string
}

export function loadSession (now = Date.now()): Session | null {
  const raw = sessionStorage.getItem(SESSION_KEY)
  if (raw === null) return null
  try {
    const s = JSON.parse(raw) as Session
    if (typeof s.token !== 'string' || s.token === '') return null
    // An expired token with a refresh token can still be renewed.
    if (s.expiresAt !== null && s.expiresAt <= now && s.refreshToken === undefined) {
      sessionStorage.removeItem(SESSION_KEY)
      return null
    }
    return s
  } catch {
    return null
  }
}

export function saveSession (session: Session): void {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session))
}

export function clearSession (): void {
  sessionStorage.removeItem(SESSION_KEY)
  sessionStorage.removeItem(PENDING_KEY)
}

function client (oidc: OidcSettings): oauth.Client {
  return { client_id: oidc.clientId, [oauth.clockTolerance]: CLOCK_TOLERANCE_S }
}

/**
 * oauth4webapi talks HTTPS only unless told otherwise. An issuer the operator configured as
 * http:// (a local IdP in development) was accepted before, and the admin API accepts it too.
 */
function http (oidc: OidcSettings): { [oauth.allowInsecureRequests]?: boolean } {
  return new URL(oidc.issuer).protocol === 'http:' ? { [oauth.allowInsecureRequests]: true } : {}
}

/** The library's refusals, and a network failure, as sentences for the sign-in screen. */
function explain (err: unknown, oidc: OidcSettings): Error {
  if (err instanceof oauth.ResponseBodyError) return new Error(`The identity provider did not issue tokens: ${err.error_description ?? err.error}`)
  if (err instanceof oauth.AuthorizationResponseError) return new Error(`The identity provider refused the sign-in: ${err.error_description ?? err.error}`)
  if (err instanceof oauth.OperationProcessingError) {
    const claim = (err.cause as { claim?: unknown } | undefined)?.claim
    if (err.code === oauth.JWT_CLAIM_COMPARISON && claim === 'nonce') return new Error('The ID token does not belong to this sign-in (nonce mismatch). Please sign in again.')
    return new Error(`The identity provider's answer was not accepted: ${err.message}`)
  }
  // fetch() rejects with a TypeError when the IdP cannot be reached (or CORS refuses it).
  if (err instanceof TypeError) return new Error(`The identity provider (${oidc.issuer}) cannot be reached.`)
  return err instanceof Error ? err : new Error(String(err))
}

async function discover (oidc: OidcSettings): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(oidc.issuer)
  let response: Response
  try {
    response = await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...http(oidc) })
  } catch (err) {
    throw explain(err, oidc)
  }
  if (response.status !== 200) throw new Error(`The identity provider's discovery document answered ${response.status}.`)
  let as: oauth.AuthorizationServer
  try {
    // OIDC Discovery §4.3: the document must name exactly the configured issuer.
    as = await oauth.processDiscoveryResponse(issuer, response)
  } catch (err) {
    throw explain(err, oidc)
  }
  if (typeof as.authorization_endpoint !== 'string' || typeof as.token_endpoint !== 'string') {
    throw new Error('The identity provider\'s discovery document has no authorization or token endpoint.')
  }
  return as
}

/** The console's own URL without query or hash: registered at the IdP as the redirect URI. */
export function redirectUri (): string {
  return `${location.origin}${location.pathname}`
}

/** Leaves the page for the identity provider. */
export async function beginOidcLogin (oidc: OidcSettings): Promise<never> {
  if (crypto.subtle === undefined) {
    throw new Error('Signing in needs a secure context: open the console over HTTPS (or on localhost).')
  }
  const as = await discover(oidc)
  const pending: PendingLogin = {
    state: oauth.generateRandomState(),
    nonce: oauth.generateRandomNonce(),
    verifier: oauth.generateRandomCodeVerifier(),
    redirectUri: redirectUri(),
    as,
    returnTo: location.hash
  }
  const url = new URL(as.authorization_endpoint as string)
  url.searchParams.set('response_type', 'code')
  url.searchParams.set('client_id', oidc.clientId)
  url.searchParams.set('redirect_uri', pending.redirectUri)
  url.searchParams.set('scope', oidc.scopes.join(' '))
  url.searchParams.set('state', pending.state)
  url.searchParams.set('nonce', pending.nonce)
  url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(pending.verifier))
  url.searchParams.set('code_challenge_method', 'S256')
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending))
  location.assign(url.toString())
  return await new Promise<never>(() => {})
}

export function isOidcCallback (): boolean {
  const q = new URLSearchParams(location.search)
  return q.has('state') && (q.has('code') || q.has('error'))
}

/** A JWT's payload, unverified: only to pick a token and read its `exp` (the admin API verifies). */
function jwtPayload (token: string): Record<string, unknown> | null {
  const parts = token.split('.')
  if (parts.length !== 3) return null
  try {
    const json = atob((parts[1] as string).replace(/-/g, '+').replace(/_/g, '/'))
    const payload = JSON.parse(new TextDecoder().decode(Uint8Array.from(json, c => c.charCodeAt(0)))) as unknown
    return payload !== null && typeof payload === 'object' ? payload as Record<string, unknown> : null
  } catch {
    return null
  }
}

function audiences (payload: Record<string, unknown>): string[] {
  const aud = payload.aud
  return Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : typeof aud === 'string' ? [aud] : []
}

/**
 * Which token to send to the admin API: an access token when the IdP issued a JWT for the
 * configured audience (Auth0, Keycloak with an audience mapper…), otherwise the ID token, whose
 * audience is the client id (the Kubernetes-dashboard convention).
 */
export function chooseBearer (tokens: { access_token?: string, id_token?: string }, oidc: OidcSettings): { token: string, expiresAt: number | null } | null {
  const access = typeof tokens.access_token === 'string' ? jwtPayload(tokens.access_token) : null
  if (access !== null && tokens.access_token !== undefined && audiences(access).includes(oidc.audience ?? oidc.clientId)) {
    return { token: tokens.access_token, expiresAt: typeof access.exp === 'number' ? access.exp * 1000 : null }
  }
  if (typeof tokens.id_token === 'string') {
    const id = jwtPayload(tokens.id_token)
    if (id === null) return null
    return { token: tokens.id_token, expiresAt: typeof id.exp === 'number' ? id.exp * 1000 : null }
  }
  return null
}

function sessionFrom (tokens: oauth.TokenEndpointResponse, oidc: OidcSettings, as: oauth.AuthorizationServer, previous?: Session): Session {
  const bearer = chooseBearer(tokens, oidc)
  if (bearer === null) throw new Error('The identity provider returned no usable token (no ID token or JWT access token).')
  const refreshToken = tokens.refresh_token ?? previous?.refreshToken
  const idToken = tokens.id_token ?? previous?.idToken
  const endSession = typeof as.end_session_endpoint === 'string' ? as.end_session_endpoint : previous?.endSessionEndpoint
  return {
    kind: 'oidc',
    token: bearer.token,
    expiresAt: bearer.expiresAt,
    issuer: as.issuer,
    ...(refreshToken === undefined || as.token_endpoint === undefined ? {} : { refreshToken, tokenEndpoint: as.token_endpoint }),
    ...(idToken === undefined ? {} : { idToken }),
    ...(endSession === undefined ? {} : { endSessionEndpoint: endSession })
  }
}

/** Renews an OIDC session with its refresh token (rotated when the IdP rotates it); the caller saves it. */
export async function refreshSession (session: Session, oidc: OidcSettings): Promise<Session> {
  if (session.refreshToken === undefined || session.tokenEndpoint === undefined) throw new Error('This session cannot be renewed.')
  // Sessions saved before the issuer was kept: the configured one, which discovery confirmed.
  const as: oauth.AuthorizationServer = { issuer: session.issuer ?? oidc.issuer, token_endpoint: session.tokenEndpoint }
  let tokens: oauth.TokenEndpointResponse
  try {
    const response = await oauth.refreshTokenGrantRequest(as, client(oidc), oauth.None(), session.refreshToken, http(oidc))
    tokens = await oauth.processRefreshTokenResponse(as, client(oidc), response)
  } catch (err) {
    throw explain(err, oidc)
  }
  // OIDC Core §12.2: a renewed ID token is about the same user as the one it renews.
  const before = session.idToken === undefined ? null : jwtPayload(session.idToken)
  const after = oauth.getValidatedIdTokenClaims(tokens)
  if (before !== null && after !== undefined && after.sub !== before.sub) throw new Error('The identity provider renewed the session for another user.')
  return sessionFrom(tokens, oidc, as, session)
}

/** Finishes the redirect: checks state, swaps the code for tokens, checks the ID token, saves the session. */
export async function completeOidcLogin (oidc: OidcSettings): Promise<{ session: Session, returnTo: string }> {
  const callback = new URL(location.href)
  const raw = sessionStorage.getItem(PENDING_KEY)
  sessionStorage.removeItem(PENDING_KEY)
  // The code must not stay in the address bar or history.
  history.replaceState(null, '', redirectUri() + location.hash)
  let pending: PendingLogin | null = null
  try {
    pending = raw === null ? null : JSON.parse(raw) as PendingLogin
  } catch {}
  if (pending === null || typeof pending.as !== 'object' || callback.searchParams.get('state') !== pending.state) {
    throw new Error('The sign-in response does not match a sign-in started here. Please sign in again.')
  }
  const { as } = pending
  let tokens: oauth.TokenEndpointResponse
  try {
    // State (again) and RFC 9207's iss parameter, or the IdP's error.
    const params = oauth.validateAuthResponse(as, client(oidc), callback, pending.state)
    const response = await oauth.authorizationCodeGrantRequest(as, client(oidc), oauth.None(), params, pending.redirectUri, pending.verifier, http(oidc))
    tokens = await oauth.processAuthorizationCodeResponse(as, client(oidc), response, { expectedNonce: pending.nonce, requireIdToken: true })
  } catch (err) {
    throw explain(err, oidc)
  }
  const session = sessionFrom(tokens, oidc, as)
  saveSession(session)
  return { session, returnTo: pending.returnTo }
}

/**
 * Signs out: forgets the session, and where the IdP offers RP-initiated logout (OpenID Connect
 * RP-Initiated Logout 1.0 §2) leaves for its end_session_endpoint, which ends the IdP's own session
 * and sends the browser back to the console (that URL must be registered at the IdP as a
 * post-logout redirect URI). Returns true when the page is leaving, false when only the session here
 * was cleared (a token session, or an IdP without the endpoint).
 */
export function endSession (session: Session | null, oidc: OidcSettings | null): boolean {
  clearSession()
  if (session?.kind !== 'oidc' || session.endSessionEndpoint === undefined || oidc === null) return false
  const url = new URL(session.endSessionEndpoint)
  if (session.idToken !== undefined) url.searchParams.set('id_token_hint', session.idToken)
  url.searchParams.set('client_id', oidc.clientId)
  url.searchParams.set('post_logout_redirect_uri', redirectUri())
  location.assign(url.toString())
  return true
}
