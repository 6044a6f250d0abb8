// Sign-in: OpenID Connect authorization code + PKCE as a public client (no secret in the
// browser), or a pasted bootstrap admin token. The session lives in sessionStorage only: it
// dies with the tab, and nothing credential-like ever goes to localStorage.
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
}

const SESSION_KEY = 'mcpgate.session'
const PENDING_KEY = 'mcpgate.oidc.pending'

interface PendingLogin {
  state: string
  nonce: string
  verifier: string
  redirectUri: string
  tokenEndpoint: string
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

function base64url (bytes: Uint8Array): string {
  let s = ''
  for (const b of bytes) s += String.fromCharCode(b)
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

function randomString (bytes = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)))
}

async function s256 (verifier: string): Promise<string> {
  if (crypto.subtle === undefined) {
    throw new Error('Signing in needs a secure context: open the console over HTTPS (or on localhost).')
  }
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))
  return base64url(new Uint8Array(digest))
}

interface Discovery {
  issuer: string
  authorization_endpoint: string
  token_endpoint: string
}

async function discover (issuer: string): Promise<Discovery> {
  const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`
  let res: Response
  try {
    res = await fetch(url, { credentials: 'omit' })
  } catch {
    throw new Error(`The identity provider (${issuer}) cannot be reached.`)
  }
  if (!res.ok) throw new Error(`The identity provider's discovery document answered ${res.status}.`)
  const doc = await res.json() as Partial<Discovery>
  if (typeof doc.authorization_endpoint !== 'string' || typeof doc.token_endpoint !== 'string') {
    throw new Error('The identity provider\'s discovery document has no authorization or token endpoint.')
  }
  return doc as Discovery
}

/** The console's own URL without query or hash: registered at the IdP as the redirect URI. */
export function redirectUri (): string {
  return `${location.origin}${location.pathname}`
}

/** Leaves the page for the identity provider. */
export async function beginOidcLogin (oidc: OidcSettings): Promise<never> {
  const discovery = await discover(oidc.issuer)
  const pending: PendingLogin = {
    state: randomString(),
    nonce: randomString(),
    verifier: randomString(48),
    redirectUri: redirectUri(),
    tokenEndpoint: discovery.token_endpoint,
    returnTo: location.hash
  }
  const url = new URL(discovery.authorization_endpoint)
  url.searchParams.set('response_type', 'code')
  url.searchParams.set('client_id', oidc.clientId)
  url.searchParams.set('redirect_uri', pending.redirectUri)
  url.searchParams.set('scope', oidc.scopes.join(' '))
  url.searchParams.set('state', pending.state)
  url.searchParams.set('nonce', pending.nonce)
  url.searchParams.set('code_challenge', await s256(pending.verifier))
  url.searchParams.set('code_challenge_method', 'S256')
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending))
  location.assign(url.toString())
  return await new Promise<never>(() => {})
}

export function isOidcCallback (): boolean {
  const q = new URLSearchParams(location.search)
  return q.has('state') && (q.has('code') || q.has('error'))
}

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

interface TokenResponse {
  access_token?: string
  id_token?: string
  refresh_token?: string
  error?: string
  error_description?: string
}

async function tokenRequest (endpoint: string, params: Record<string, string>): Promise<TokenResponse> {
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    credentials: 'omit',
    body: new URLSearchParams(params)
  })
  const tokens = await res.json().catch(() => ({})) as TokenResponse
  if (!res.ok) throw new Error(`The identity provider did not issue tokens: ${tokens.error_description ?? tokens.error ?? res.status}`)
  return tokens
}

function sessionFrom (tokens: TokenResponse, oidc: OidcSettings, tokenEndpoint: string, previousRefresh?: string): Session {
  const bearer = chooseBearer(tokens, oidc)
  if (bearer === null) throw new Error('The identity provider returned no usable token (no ID token or JWT access token).')
  const refreshToken = tokens.refresh_token ?? previousRefresh
  return {
    kind: 'oidc',
    token: bearer.token,
    expiresAt: bearer.expiresAt,
    ...(refreshToken === undefined ? {} : { refreshToken, tokenEndpoint })
  }
}

/** Renews an OIDC session with its refresh token (rotated when the IdP rotates it); the caller saves it. */
export async function refreshSession (session: Session, oidc: OidcSettings): Promise<Session> {
  if (session.refreshToken === undefined || session.tokenEndpoint === undefined) throw new Error('This session cannot be renewed.')
  const tokens = await tokenRequest(session.tokenEndpoint, {
    grant_type: 'refresh_token',
    refresh_token: session.refreshToken,
    client_id: oidc.clientId
  })
  return sessionFrom(tokens, oidc, session.tokenEndpoint, session.refreshToken)
}

/** Finishes the redirect: checks state, swaps the code for tokens, checks the nonce, saves the session. */
export async function completeOidcLogin (oidc: OidcSettings): Promise<{ session: Session, returnTo: string }> {
  const q = new URLSearchParams(location.search)
  const raw = sessionStorage.getItem(PENDING_KEY)
  sessionStorage.removeItem(PENDING_KEY)
  // The code must not stay in the address bar or history.
  history.replaceState(null, '', redirectUri() + location.hash)
  const pending = raw === null ? null : JSON.parse(raw) as PendingLogin
  if (pending === null || q.get('state') !== pending.state) {
    throw new Error('The sign-in response does not match a sign-in started here. Please sign in again.')
  }
  const error = q.get('error')
  if (error !== null) {
    throw new Error(`The identity provider refused the sign-in: ${q.get('error_description') ?? error}`)
  }
  const tokens = await tokenRequest(pending.tokenEndpoint, {
    grant_type: 'authorization_code',
    code: q.get('code') ?? '',
    redirect_uri: pending.redirectUri,
    client_id: oidc.clientId,
    code_verifier: pending.verifier
  })
  const idPayload = typeof tokens.id_token === 'string' ? jwtPayload(tokens.id_token) : null
  if (idPayload !== null && idPayload.nonce !== pending.nonce) {
    throw new Error('The ID token does not belong to this sign-in (nonce mismatch). Please sign in again.')
  }
  const session = sessionFrom(tokens, oidc, pending.tokenEndpoint)
  saveSession(session)
  return { session, returnTo: pending.returnTo }
}
