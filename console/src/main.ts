// Console entry: read /console-config.json, finish an OIDC redirect if this is one, restore
// the tab's session, then show the sign-in screen or the console.
import './styles.css'
import { Api, ApiError, type McpServer, type Me } from './api.ts'
import { clearSession, completeOidcLogin, endSession, isOidcCallback, loadSession, refreshSession, saveSession, type ConsoleConfig, type Session } from './auth.ts'
import { startApp } from './app.ts'
import type { AppContext } from './context.ts'
import { errorMessage } from './dialog.ts'
import { isTransient } from './messages.ts'
import { h, replaceChildren } from './dom.ts'
import { renderSignIn } from './pages/sign-in.ts'

const root = document.getElementById('app') as HTMLElement

let session: Session | null = null
let stopApp: (() => void) | null = null
/** True once the console is showing; a 401 after that means the session ended. */
let active = false
const EXPIRED = 'Your session has expired or was revoked. Please sign in again.'

function signOut (message?: string): void {
  clearSession()
  session = null
  active = false
  stopApp?.()
  stopApp = null
  for (const d of document.querySelectorAll('dialog')) d.remove()
  showSignIn(message)
}

/** Renew an OIDC token this long before it expires. */
const REFRESH_MARGIN_MS = 60_000
let refreshing: Promise<void> | null = null

async function currentToken (): Promise<string | null> {
  const s = session
  if (s === null) return null
  const stale = s.expiresAt !== null && s.expiresAt - Date.now() < REFRESH_MARGIN_MS
  if (stale && s.refreshToken !== undefined && config.oidc !== null) {
    const oidc = config.oidc
    // One renewal for all the requests that notice at once.
    refreshing ??= refreshSession(s, oidc).then(next => {
      // Signed out meanwhile: the renewed session must not come back.
      if (session !== s) return
      session = next
      saveSession(next)
    }, () => {
      // Not renewable: the old token is sent, the API answers 401 and the user signs in again.
    }).finally(() => { refreshing = null })
    await refreshing
  }
  return session?.token ?? null
}

const api = new Api(currentToken, () => {
  if (active) signOut(EXPIRED)
})

let config: ConsoleConfig = { oidc: null, gatewayUrl: location.origin }

function showSignIn (message?: string): void {
  root.className = ''
  renderSignIn(root, {
    config,
    ...(message === undefined ? {} : { message }),
    useToken: async (token) => {
      session = { kind: 'token', token, expiresAt: null }
      try {
        await enter()
        saveSession(session)
      } catch (err) {
        session = null
        throw err instanceof ApiError && err.statusCode === 401 ? new Error('That token is not valid.') : err
      }
    }
  })
}

/** Loads the caller and the server catalogue, then shows the console. */
async function enter (): Promise<void> {
  const me = await api.get<Me>('/api/me')
  const servers = (await api.get<{ items: McpServer[] }>('/api/mcp-servers')).items
  const ctx: AppContext = {
    api,
    config,
    me,
    isAdmin: me.role === 'admin',
    servers,
    reloadServers: async () => {
      ctx.servers = (await api.get<{ items: McpServer[] }>('/api/mcp-servers')).items
    }
  }
  root.className = ''
  active = true
  // Sign out asked by the user: at the IdP too when it offers that (the page leaves for it and
  // comes back signed out); a session the API refused (signOut with a reason) ends here only.
  stopApp = startApp(root, ctx, () => {
    if (endSession(session, config.oidc)) active = false
    else signOut()
  })
}

async function boot (): Promise<void> {
  try {
    const res = await fetch('/console-config.json', { cache: 'no-store' })
    if (!res.ok) throw new Error(`/console-config.json answered ${res.status}`)
    const loaded = await res.json() as Partial<ConsoleConfig>
    config = { oidc: loaded.oidc ?? null, gatewayUrl: loaded.gatewayUrl ?? location.origin }
  } catch {
    // Nothing is known yet (not even how to sign in): Retry loads the page again.
    showCannotStart('The console cannot load its configuration from the admin API. Check your connection, then retry.', () => location.reload())
    return
  }

  const fromCallback = isOidcCallback()
  if (fromCallback) {
    if (config.oidc === null) {
      showSignIn('Single sign-on is not configured on this server.')
      return
    }
    try {
      const done = await completeOidcLogin(config.oidc)
      session = done.session
      if (done.returnTo !== '') history.replaceState(null, '', done.returnTo)
    } catch (err) {
      showSignIn(errorMessage(err))
      return
    }
  } else {
    session = loadSession()
  }

  if (session === null) {
    showSignIn()
    return
  }
  const start = () => enter().catch((err: unknown) => {
    // The API cannot be reached or failed: the session may be fine, so it is kept for a retry.
    if (!fromCallback && isTransient(err)) {
      showCannotStart(`The console could not start. ${errorMessage(err)}`, () => { start().catch(() => {}) })
      return
    }
    const status = err instanceof ApiError ? err.statusCode : 0
    signOut(status === 401
      ? (fromCallback ? `The admin API did not accept the sign-in: ${errorMessage(err)}` : EXPIRED)
      : status === 403
        ? `Signed in, but not allowed: ${errorMessage(err)}`
        : `The console could not start: ${errorMessage(err)}`)
  })
  await start()
}

/** Before the console shows: what failed, and a Retry button (its focus kept for keyboard users). */
function showCannotStart (message: string, retry: () => void): void {
  root.className = ''
  const button = h('button', { type: 'button', class: 'secondary' }, 'Retry')
  button.addEventListener('click', () => {
    button.disabled = true
    button.textContent = 'Retrying…'
    retry()
  })
  replaceChildren(root, h('main', { class: 'boot-error' },
    h('div', { class: 'notice error', role: 'alert' }, h('p', {}, message), h('p', {}, button))))
  button.focus()
}

boot().catch((err: unknown) => {
  replaceChildren(root, h('div', { class: 'notice error', role: 'alert' }, errorMessage(err)))
})
