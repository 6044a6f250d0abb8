// The signed-in shell: top bar with the profile menu, the sidebar (User Management for admins
// only) and a hash router (#/keys, #/keys/key?id=…, #/admin/keys, #/admin/keys/key?id=…,
// #/admin/users, #/admin/audit, and #/oauth/consent?uid=… in OAuth mode), so the server serves one file. A non-admin at an admin page's
// address is told that it is not allowed there.
import type { AppContext } from './context.ts'
import { h, replaceChildren } from './dom.ts'
import { menuButton } from './menu.ts'
import { renderAdminKeys } from './pages/admin-keys.ts'
import { renderAudit } from './pages/audit.ts'
import { renderConsent } from './pages/consent.ts'
import { keyDetailPage } from './pages/key-detail.ts'
import { pageHeader, renderMyKeys } from './pages/keys.ts'
import { renderUsers } from './pages/users.ts'

interface Route {
  hash: string
  title: string
  admin: boolean
  /** The sidebar link marked current: the route's own, or its list's for a detail view. */
  nav?: string
  render: (ctx: AppContext, section: HTMLElement, params: URLSearchParams) => Promise<void>
}

const ROUTES: Route[] = [
  { hash: '#/keys', title: 'API Keys', admin: false, render: renderMyKeys },
  { hash: '#/admin/keys', title: 'All API Keys', admin: true, render: renderAdminKeys },
  { hash: '#/admin/users', title: 'Users', admin: true, render: renderUsers },
  { hash: '#/admin/audit', title: 'Audit', admin: true, render: renderAudit },
  { hash: '#/keys/key', title: 'API key', admin: false, nav: '#/keys', render: keyDetailPage(false) },
  { hash: '#/admin/keys/key', title: 'API key', admin: true, nav: '#/admin/keys', render: keyDetailPage(true) },
  // OAuth mode: where the authorization server sends a user to consent (?uid=…).
  { hash: '#/oauth/consent', title: 'Allow access', admin: false, nav: '#/keys', render: renderConsent }
]

/** What a non-admin sees at an admin page's address. */
const notAllowed: Route = {
  hash: '',
  title: 'Not allowed',
  admin: false,
  render: async (ctx, section) => {
    replaceChildren(section,
      pageHeader('Not allowed'),
      h('div', { class: 'notice', role: 'alert' },
        h('p', {}, 'This page is for mcpgate administrators, and ', h('strong', {}, displayName(ctx)), ' is not one.'),
        h('p', {}, 'If you need it, ask an administrator to give your account the admin role.')),
      h('p', {}, h('a', { href: '#/keys' }, 'Go to My API Keys')))
  }
}

function displayName (ctx: AppContext): string {
  const user = ctx.me.user
  if (user === null) return 'Admin token'
  return user.name !== '' ? user.name : user.email
}

export function startApp (root: HTMLElement, ctx: AppContext, signOut: () => void): () => void {
  const navLink = (route: Route, label: string) => h('li', {}, h('a', { href: route.hash, 'data-route': route.hash }, label))
  const [keys, adminKeys, users, audit] = ROUTES as [Route, Route, Route, Route]
  const sidebar = h('nav', { class: 'sidebar', 'aria-label': 'Main' },
    h('ul', {}, navLink(keys, 'My API Keys')),
    ctx.isAdmin
      ? h('div', { class: 'nav-group' },
        h('h2', { class: 'nav-heading', id: 'nav-user-management' }, 'User Management'),
        h('ul', { 'aria-labelledby': 'nav-user-management' }, navLink(adminKeys, 'All API Keys'), navLink(users, 'Users'), navLink(audit, 'Audit')))
      : null)
  const user = ctx.me.user
  const profile = menuButton({
    label: `Account menu for ${displayName(ctx)}`,
    className: 'profile-button',
    content: h('span', { class: 'profile' },
      h('span', { class: 'avatar', 'aria-hidden': 'true' }, displayName(ctx).slice(0, 1).toUpperCase()),
      h('span', { class: 'profile-name' }, displayName(ctx))),
    items: [
      { label: 'API Keys', onSelect: () => { location.hash = keys.hash } },
      { label: 'Sign out', onSelect: signOut }
    ]
  })
  const main = h('main', { id: 'main', class: 'content', tabindex: -1 })
  replaceChildren(root,
    h('a', { class: 'skip-link', href: '#main', onclick: (e: Event) => { e.preventDefault(); main.focus() } }, 'Skip to content'),
    h('header', { class: 'topbar' },
      h('a', { class: 'brand', href: keys.hash }, h('img', { src: '/favicon.svg', alt: '', width: 24, height: 24 }), 'mcpgate'),
      h('div', { class: 'topbar-right' },
        user === null ? h('span', { class: 'badge admin' }, 'Admin token') : ctx.isAdmin ? h('span', { class: 'badge admin' }, 'Admin') : null,
        profile)),
    h('div', { class: 'layout' }, sidebar, main),
    h('div', { id: 'announcer', class: 'visually-hidden', 'aria-live': 'polite', role: 'status' }))

  let first = true
  const route = () => {
    const [hashPath = '', query = ''] = location.hash.split('?')
    const found = ROUTES.find(r => r.hash === hashPath)
    // An admin page for a non-admin: said so where they asked (a link or a bookmark), not a
    // silent jump elsewhere.
    let current = found !== undefined && found.admin && !ctx.isAdmin ? notAllowed : found
    if (current === undefined) {
      // Unknown: the own keys page. The bootstrap token owns no keys, so it starts on the admin list.
      current = user === null && ctx.isAdmin ? adminKeys : keys
      history.replaceState(null, '', current.hash)
    }
    for (const a of sidebar.querySelectorAll('a')) {
      // A detail view marks its list's link as the current section (not the current page).
      if (a.dataset.route === current.hash) a.setAttribute('aria-current', 'page')
      else if (a.dataset.route === current.nav) a.setAttribute('aria-current', 'true')
      else a.removeAttribute('aria-current')
    }
    document.title = `${current.title} · mcpgate`
    const section = h('section', { class: 'page', 'aria-labelledby': 'page-title' })
    replaceChildren(main, section)
    current.render(ctx, section, new URLSearchParams(query)).then(() => {
      // Move focus to the new page's heading for keyboard and screen reader users (not on load).
      if (!first) section.querySelector<HTMLElement>('#page-title')?.focus()
      first = false
    }, () => {})
  }
  ctx.reload = route
  window.addEventListener('hashchange', route)
  route()
  return () => window.removeEventListener('hashchange', route)
}
