// User Management → Users: people and service accounts (filtered by kind, kept in the address:
// #/admin/users?kind=service), their role, groups and disabled flag; add people, create service
// accounts, create API keys for any of them (a service account gets its keys only so), disable
// (after a confirmation) and delete users (their keys go too). What the signed-in admin may not do
// to their own account, and demoting an admin whom an IdP group makes one, are unavailable in the
// menu with the reason; the API refuses the last enabled admin's (MCPGATE_LAST_ADMIN) too.
import { ApiError, path, type ApiKey, type User } from '../api.ts'
import type { AppContext } from '../context.ts'
import { field, openCreateKeyDialog } from '../create-key.ts'
import { confirmDialog, errorMessage, openModal } from '../dialog.ts'
import { announce, h, replaceChildren } from '../dom.ts'
import { accountLabel, parseTime, plural, timeElement } from '../format.ts'
import { menuButton, type MenuItem } from '../menu.ts'
import { sortableTable } from '../table.ts'
import { loading, pageError, pageHeader } from './keys.ts'

type Kind = User['kind']

/** The filter's choices: '' is every user. */
const KIND_FILTER: ReadonlyArray<{ value: '' | Kind, label: string }> = [
  { value: '', label: 'All users' },
  { value: 'human', label: 'People' },
  { value: 'service', label: 'Service accounts' }
]

export function usersHash (kind: '' | Kind): string {
  return kind === '' ? '#/admin/users' : `#/admin/users?kind=${kind}`
}

function kindOf (value: string | null): '' | Kind {
  return value === 'human' || value === 'service' ? value : ''
}

/** How a row's actions and confirmations name it: "service account" or "user". */
function kindWord (u: User): string {
  return u.kind === 'service' ? 'service account' : 'user'
}

/**
 * The identity provider group that makes `u` an admin (roleFromGroups: admin.oidc.adminGroups),
 * as far as the console can tell: the API says whether, not which; with one group it is that one.
 */
function adminGroupText (u: User): string {
  return u.groups.length === 1 ? `IdP group ${u.groups[0] as string}` : `an IdP group (one of ${u.groups.join(', ')})`
}

function parseGroups (value: string): string[] {
  return [...new Set(value.split(',').map(g => g.trim()).filter(g => g !== ''))]
}

/** A 400 or 409 shown next to the field it names (the API's message starts with it), else above the buttons. */
function showFieldError (err: unknown, fields: Record<string, { setError: (m: string | null) => void }>, controls: Record<string, HTMLElement>, formError: HTMLElement): void {
  const name = err instanceof ApiError ? err.field : null
  const f = name === null ? undefined : fields[name]
  if (name !== null && f !== undefined) {
    f.setError(errorMessage(err))
    controls[name]?.focus()
  } else {
    formError.textContent = errorMessage(err)
    formError.hidden = false
  }
}

/**
 * A service account: a name (required without an email), groups (what it may reach comes from
 * them, as for anyone) and an optional email. The API decides what is missing and names the field.
 */
function openNewServiceAccountDialog (ctx: AppContext, onCreated: (user: User) => void): void {
  const modal = openModal({ title: 'New service account' })
  const name = h('input', { type: 'text', id: 'service-name', autocomplete: 'off', maxlength: 200 })
  const groups = h('input', { type: 'text', id: 'service-groups', autocomplete: 'off' })
  const email = h('input', { type: 'email', id: 'service-email', autocomplete: 'off', maxlength: 254 })
  const fields = {
    name: field('Name', name, 'Required. What it is for, e.g. CI pipeline.'),
    groups: field('Groups', groups, 'Comma-separated. Its access to MCP servers comes from its groups.'),
    email: field('Email', email, 'Optional: an address for notices about it. A service account never signs in.')
  }
  const formError = h('p', { class: 'form-error', role: 'alert', hidden: true })
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create service account')
  const form = h('form', { novalidate: true, class: 'form' },
    h('p', {}, 'A service account is for a program (a CI pipeline, an agent): it never signs in, is never an admin, and its API keys are created here by admins.'),
    fields.name.wrapper, fields.groups.wrapper, fields.email.wrapper, formError,
    h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'secondary', onclick: () => modal.close() }, 'Cancel'), submit))
  form.addEventListener('submit', event => {
    event.preventDefault()
    for (const f of Object.values(fields)) f.setError(null)
    formError.hidden = true
    const body: Record<string, unknown> = { kind: 'service', groups: parseGroups(groups.value) }
    if (name.value.trim() !== '') body.name = name.value.trim()
    if (email.value.trim() !== '') body.email = email.value.trim()
    submit.disabled = true
    ctx.api.post<User>('/api/users', body).then(user => {
      onCreated(user)
      modal.close()
    }, (err: unknown) => {
      submit.disabled = false
      showFieldError(err, fields, { name, groups, email }, formError)
    })
  })
  modal.body.appendChild(form)
  name.focus()
}

function openAddUserDialog (ctx: AppContext, onCreated: (user: User) => void): void {
  const modal = openModal({ title: 'Add user' })
  const email = h('input', { type: 'email', id: 'user-email', required: true, autocomplete: 'off', maxlength: 254 })
  const name = h('input', { type: 'text', id: 'user-name', autocomplete: 'off', maxlength: 200 })
  const role = h('select', { id: 'user-role' }, h('option', { value: 'user' }, 'User'), h('option', { value: 'admin' }, 'Admin'))
  const groups = h('input', { type: 'text', id: 'user-groups', autocomplete: 'off' })
  const fields = {
    email: field('Email', email, 'Required. Users who sign in with single sign-on are added automatically.'),
    name: field('Name', name, 'Optional. Defaults to the email.'),
    role: field('Role', role),
    groups: field('Groups', groups, 'Optional, comma-separated.')
  }
  const formError = h('p', { class: 'form-error', role: 'alert', hidden: true })
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Add user')
  const form = h('form', { novalidate: true, class: 'form' },
    fields.email.wrapper, fields.name.wrapper, fields.role.wrapper, fields.groups.wrapper, formError,
    h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'secondary', onclick: () => modal.close() }, 'Cancel'), submit))
  form.addEventListener('submit', event => {
    event.preventDefault()
    for (const f of Object.values(fields)) f.setError(null)
    formError.hidden = true
    if (email.value.trim() === '') {
      fields.email.setError('Enter an email address.')
      email.focus()
      return
    }
    const body: Record<string, unknown> = { email: email.value.trim(), role: role.value, groups: parseGroups(groups.value) }
    if (name.value.trim() !== '') body.name = name.value.trim()
    submit.disabled = true
    ctx.api.post<User>('/api/users', body).then(user => {
      onCreated(user)
      modal.close()
    }, (err: unknown) => {
      submit.disabled = false
      showFieldError(err, fields, { email, name, role, groups }, formError)
    })
  })
  modal.body.appendChild(form)
  email.focus()
}

/**
 * A user's groups (what they may reach comes from them). For people who sign in with single
 * sign-on the identity provider's groups claim replaces them at every sign-in: said in the dialog.
 */
function openEditGroupsDialog (ctx: AppContext, user: User, onSaved: (user: User) => void, returnFocus: () => HTMLElement | null): void {
  const modal = openModal({ title: `Groups of ${accountLabel(user)}`, returnFocus })
  const groups = h('input', { type: 'text', id: 'edit-groups', autocomplete: 'off', value: user.groups.join(', ') })
  const fields = {
    groups: field('Groups', groups, user.kind === 'service'
      ? 'Comma-separated. Its access to MCP servers comes from its groups; every gateway applies a change at once.'
      : 'Comma-separated; every gateway applies a change at once. If this person signs in with single sign-on and the identity provider sends groups, those replace these at their next sign-in.')
  }
  const formError = h('p', { class: 'form-error', role: 'alert', hidden: true })
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Save groups')
  const form = h('form', { novalidate: true, class: 'form' }, fields.groups.wrapper, formError,
    h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'secondary', onclick: () => modal.close() }, 'Cancel'), submit))
  form.addEventListener('submit', event => {
    event.preventDefault()
    fields.groups.setError(null)
    formError.hidden = true
    submit.disabled = true
    ctx.api.patch<User>(path`/api/users/${user.id}`, { groups: parseGroups(groups.value) }).then(updated => {
      onSaved(updated)
      modal.close()
    }, (err: unknown) => {
      submit.disabled = false
      showFieldError(err, fields, { groups }, formError)
    })
  })
  modal.body.appendChild(form)
  groups.focus()
}

export async function renderUsers (ctx: AppContext, section: HTMLElement, params: URLSearchParams): Promise<void> {
  let kind = kindOf(params.get('kind'))
  const add = h('button', { type: 'button', class: 'primary' }, 'Add user')
  const addService = h('button', { type: 'button', class: 'secondary' }, 'New service account')
  const filter = h('select', { id: 'kind-filter', name: 'kind' }, KIND_FILTER.map(k => h('option', { value: k.value, selected: k.value === kind }, k.label)))
  const status = h('div', { class: 'page-status' })
  const body = h('div', {}, loading())
  replaceChildren(section,
    pageHeader('Users', addService, add),
    h('p', { class: 'page-intro' }, 'People are added when they first sign in with single sign-on, or here. Service accounts are for programs: they never sign in, and admins create their API keys here; their groups decide what they reach. Disabling a user stops all of their API keys at once.'),
    h('div', { class: 'toolbar' }, h('label', { for: filter.id }, 'Show'), filter),
    status,
    body)

  const list = async () => (await ctx.api.listAll<User>('/api/users', kind === '' ? {} : { kind })).items
  let rows: User[]
  try {
    rows = await list()
  } catch (err) {
    replaceChildren(body, pageError(err, ctx.reload))
    return
  }

  /** The signed-in admin's own account (none with the bootstrap token). */
  const self = ctx.me.user?.id
  const showError = (err: unknown) => replaceChildren(status, pageError(err))
  const menuOf = (user: User) => document.querySelector<HTMLElement>(`[data-user-actions="${CSS.escape(user.id)}"] > button`)
  /** The row shows the changed user; the focus goes back to its ⋮ (the row was re-rendered). */
  const replace = (user: User) => {
    rows = rows.map(r => r.id === user.id ? user : r)
    table.setRows(rows)
    menuOf(user)?.focus()
  }
  /** How many API keys `user` has now, for a confirmation; null when they cannot be counted. */
  const keyCountOf = async (user: User): Promise<number | null> => {
    try {
      return (await ctx.api.listAll<ApiKey>('/api/admin-api-keys', { userId: user.id })).items.length
    } catch {
      return null
    }
  }
  /** Disabling stops every key of the user at once: said first, with how to undo it. */
  const disable = async (user: User) => {
    replaceChildren(status)
    const keyCount = await keyCountOf(user)
    const service = user.kind === 'service'
    const their = service ? 'its' : 'their'
    const keys = keyCount === null
      ? `All of ${their} API keys stop working at once, on every gateway.`
      : keyCount === 0
        ? `${service ? 'It has' : 'They have'} no API keys now; any made later do not work while ${service ? 'it is' : 'they are'} disabled.`
        : `${service ? 'Its' : 'Their'} ${plural(keyCount, 'API key stops', 'API keys stop')} working at once, on every gateway.`
    let updated: User | null = null
    const done = await confirmDialog({
      title: service ? 'Disable service account' : 'Disable user',
      message: h('div', {},
        h('p', {}, `Disable the ${kindWord(user)} `, h('strong', {}, accountLabel(user)), '?'),
        h('p', {}, keys, service ? '' : ' They cannot sign in to the console either.'),
        h('p', {}, `Enable ${service ? 'it' : 'them'} again to undo this: ${their} keys then work again.`)),
      confirmLabel: service ? 'Disable service account' : 'Disable user',
      action: async () => { updated = await ctx.api.patch<User>(path`/api/users/${user.id}`, { disabled: true }) }
    })
    if (!done || updated === null) return
    replace(updated)
    announce(`Disabled ${accountLabel(user)}; ${their} keys stop working`)
  }
  const patch = (user: User, change: Partial<Pick<User, 'role' | 'disabled'>>, done: string) => {
    replaceChildren(status)
    ctx.api.patch<User>(path`/api/users/${user.id}`, change).then(updated => {
      replace(updated)
      announce(done)
    }, showError)
  }
  const remove = async (user: User) => {
    replaceChildren(status)
    const keyCount = await keyCountOf(user)
    const service = user.kind === 'service'
    const [their, they] = service ? ['Its', 'It has'] : ['Their', 'They have']
    const what = kindWord(user)
    const deleted = await confirmDialog({
      title: service ? 'Delete service account' : 'Delete user',
      message: h('div', {},
        h('p', {}, `Delete the ${what} `, h('strong', {}, accountLabel(user)), '?'),
        h('p', {}, keyCount === null
          ? `All of ${their.toLowerCase()} API keys are deleted too, and clients using them stop working at once.`
          : keyCount === 0
            ? `${they} no API keys. Any keys made for it before this completes are deleted too.`
            : `${their} ${plural(keyCount, 'API key', 'API keys')} ${keyCount === 1 ? 'is' : 'are'} deleted too, and clients using ${keyCount === 1 ? 'it' : 'them'} stop working at once.`),
        h('p', {}, service
          ? 'This cannot be undone.'
          : 'This cannot be undone. If they sign in again with single sign-on, a new, empty account is created.')),
      confirmLabel: service ? 'Delete service account' : 'Delete user',
      action: () => ctx.api.delete(path`/api/users/${user.id}`)
    })
    if (!deleted) return
    rows = rows.filter(r => r.id !== user.id)
    table.setRows(rows, { near: user, control: '[data-user-actions] > button', whenEmpty: () => table.element.querySelector<HTMLElement>('.empty-state h2') })
    announce(`Deleted ${what} ${accountLabel(user)}`)
  }
  /** A key for this user, offered the servers they reach; shown once, as at create. */
  const createKey = (user: User) => openCreateKeyDialog(ctx, created => {
    announce(`Created API key ${created.name} for ${user.name}`)
  }, {
    owner: user,
    returnFocus: () => menuOf(user),
    existingNames: ctx.api.listAll<ApiKey>('/api/admin-api-keys', { userId: user.id }).then(r => r.items.map(k => k.name))
  })
  /** The role item: unavailable on your own account and for an admin whom an IdP group makes one. */
  const roleItem = (u: User): MenuItem | null => {
    // A service account is never an admin (the API refuses it).
    if (u.kind === 'service') return null
    const label = accountLabel(u)
    if (u.role !== 'admin') return { label: 'Make admin', onSelect: () => patch(u, { role: 'admin' }, `${label} is now an admin`) }
    const item = { label: 'Make regular user', onSelect: () => patch(u, { role: 'user' }, `${label} is now a regular user`) }
    if (u.id === self) return { ...item, disabledReason: 'You cannot remove your own admin role: another admin can.' }
    if (u.roleFromGroups === true) return { ...item, disabledReason: `Admin through ${adminGroupText(u)}: change it at the identity provider.` }
    return item
  }

  const table = sortableTable<User>({
    caption: 'Users',
    rows,
    initialSort: { key: 'name', direction: 'asc' },
    rowClass: u => u.disabled ? 'disabled' : null,
    empty: () => kind === 'service'
      ? h('div', { class: 'empty-state' }, h('h2', { tabindex: -1 }, 'No service accounts yet'), h('p', {}, 'Create one with New service account, then give it API keys from its menu.'))
      : h('div', { class: 'empty-state' }, h('h2', { tabindex: -1 }, kind === 'human' ? 'No people yet' : 'No users yet'), h('p', {}, 'People appear here when they first sign in.')),
    columns: [
      { key: 'name', label: 'Name', sortValue: u => u.name, render: u => h('span', {}, u.name, u.id === self ? h('span', { class: 'badge' }, 'You') : null) },
      {
        key: 'kind',
        label: 'Kind',
        sortValue: u => u.kind,
        render: u => u.kind === 'service' ? h('span', { class: 'badge service' }, 'Service account') : 'Person'
      },
      { key: 'email', label: 'Email', sortValue: u => u.email, render: u => u.email === '' ? h('span', { class: 'muted', 'aria-label': 'No email' }, '—') : u.email },
      {
        key: 'role',
        label: 'Role',
        sortValue: u => u.role,
        render: u => h('span', { class: 'stacked' },
          h('span', { class: u.role === 'admin' ? 'badge admin' : 'badge' }, u.role === 'admin' ? 'Admin' : 'User'),
          u.role === 'admin' && u.roleFromGroups === true ? h('span', { class: 'role-source muted' }, `through ${adminGroupText(u)}`) : null)
      },
      { key: 'groups', label: 'Groups', sortValue: u => u.groups.join(', '), render: u => u.groups.length === 0 ? h('span', { class: 'muted' }, '—') : u.groups.join(', ') },
      { key: 'status', label: 'Status', sortValue: u => u.disabled ? 1 : 0, render: u => u.disabled ? h('span', { class: 'badge danger' }, 'Disabled') : 'Active' },
      { key: 'createdAt', label: 'Created', sortValue: u => parseTime(u.createdAt) ?? 0, render: u => timeElement(u.createdAt, '—') },
      {
        key: 'actions',
        label: 'Actions',
        hiddenLabel: true,
        className: 'col-actions',
        render: u => {
          const label = accountLabel(u)
          const you = u.id === self
          const menu = menuButton({
            label: `Actions for ${kindWord(u)} ${label}`,
            content: h('span', { 'aria-hidden': 'true' }, '⋮'),
            className: 'icon-button',
            items: [
              { label: 'View API keys', onSelect: () => { location.hash = `#/admin/keys?user=${encodeURIComponent(u.id)}` } },
              { label: 'Create API key', onSelect: () => createKey(u) },
              roleItem(u),
              {
                label: 'Edit groups',
                onSelect: () => openEditGroupsDialog(ctx, u, updated => {
                  replace(updated)
                  announce(`Groups of ${label}: ${updated.groups.length === 0 ? 'none' : updated.groups.join(', ')}`)
                }, () => menuOf(u))
              },
              u.disabled
                ? { label: 'Enable', onSelect: () => patch(u, { disabled: false }, `Enabled ${label}`) }
                : {
                    label: 'Disable',
                    onSelect: () => { disable(u).catch(showError) },
                    ...(you ? { disabledReason: 'You cannot disable your own account.' } : {})
                  },
              {
                label: 'Delete',
                danger: true,
                onSelect: () => { remove(u).catch(showError) },
                ...(you ? { disabledReason: 'You cannot delete your own account.' } : {})
              }
            ].filter((item): item is MenuItem => item !== null)
          })
          // Lets a dialog return the focus to this row's menu after the row was re-rendered.
          menu.dataset.userActions = u.id
          return menu
        }
      }
    ]
  })
  /** A new user joins the rows when the filter shows its kind. */
  const added = (user: User, what: string) => {
    if (kind === '' || kind === user.kind) {
      rows = [...rows, user]
      table.setRows(rows)
    }
    announce(`Added ${what} ${accountLabel(user)}`)
  }
  // The filter lists again in place, the focus staying on it; the address follows (pushState, so
  // no re-render), and Back returns to the previous filter through the router's hashchange.
  let listing = 0
  filter.addEventListener('change', () => {
    kind = kindOf(filter.value)
    history.pushState(null, '', usersHash(kind))
    replaceChildren(status)
    const mine = ++listing
    list().then(items => {
      if (mine !== listing) return
      rows = items
      table.setRows(rows)
      announce(`${KIND_FILTER.find(k => k.value === kind)?.label ?? 'Users'}: ${plural(rows.length, 'user', 'users')}`)
    }, (err: unknown) => { if (mine === listing) showError(err) })
  })
  add.addEventListener('click', () => openAddUserDialog(ctx, user => added(user, 'user')))
  addService.addEventListener('click', () => openNewServiceAccountDialog(ctx, user => added(user, 'service account')))
  replaceChildren(body, table.element)
}
