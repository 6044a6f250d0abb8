// User Management → Users: role, groups and disabled flag; add and delete users (their keys go too).
import { ApiError, path, type ApiKey, type User } from '../api.ts'
import type { AppContext } from '../context.ts'
import { field } from '../create-key.ts'
import { confirmDialog, errorMessage, openModal } from '../dialog.ts'
import { announce, h, replaceChildren } from '../dom.ts'
import { parseTime, plural, timeElement } from '../format.ts'
import { menuButton } from '../menu.ts'
import { sortableTable } from '../table.ts'
import { userLabel } from './admin-keys.ts'
import { loading, pageError, pageHeader } from './keys.ts'

function parseGroups (value: string): string[] {
  return [...new Set(value.split(',').map(g => g.trim()).filter(g => g !== ''))]
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
      const f = err instanceof ApiError && err.field !== null ? fields[err.field as keyof typeof fields] : undefined
      if (f !== undefined) f.setError(errorMessage(err))
      else {
        formError.textContent = errorMessage(err)
        formError.hidden = false
      }
    })
  })
  modal.body.appendChild(form)
  email.focus()
}

export async function renderUsers (ctx: AppContext, section: HTMLElement): Promise<void> {
  const add = h('button', { type: 'button', class: 'primary' }, 'Add user')
  const status = h('div', { class: 'page-status' })
  const body = h('div', {}, loading())
  replaceChildren(section,
    pageHeader('Users', add),
    h('p', { class: 'page-intro' }, 'Users are added when they first sign in with single sign-on, or here. Disabling a user stops all of their API keys at once.'),
    status,
    body)

  let rows: User[]
  try {
    rows = (await ctx.api.listAll<User>('/api/users')).items
  } catch (err) {
    replaceChildren(body, pageError(err))
    return
  }

  const showError = (err: unknown) => replaceChildren(status, pageError(err))
  const replace = (user: User) => {
    rows = rows.map(r => r.id === user.id ? user : r)
    table.setRows(rows)
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
    let keyCount: number | null = null
    try {
      keyCount = (await ctx.api.listAll<ApiKey>('/api/admin-api-keys', { userId: user.id })).items.length
    } catch {
      keyCount = null
    }
    const deleted = await confirmDialog({
      title: 'Delete user',
      message: h('div', {},
        h('p', {}, 'Delete the user ', h('strong', {}, userLabel(user)), '?'),
        h('p', {}, keyCount === null
          ? 'All of their API keys are deleted too, and clients using them stop working at once.'
          : keyCount === 0
            ? 'They have no API keys. Any keys they create before this completes are deleted too.'
            : `Their ${plural(keyCount, 'API key', 'API keys')} ${keyCount === 1 ? 'is' : 'are'} deleted too, and clients using ${keyCount === 1 ? 'it' : 'them'} stop working at once.`),
        h('p', {}, 'This cannot be undone. If they sign in again with single sign-on, a new, empty account is created.')),
      confirmLabel: 'Delete user',
      action: () => ctx.api.delete(path`/api/users/${user.id}`)
    })
    if (!deleted) return
    rows = rows.filter(r => r.id !== user.id)
    table.setRows(rows)
    announce(`Deleted user ${userLabel(user)}`)
  }

  const self = ctx.me.user?.id
  const table = sortableTable<User>({
    caption: 'Users',
    rows,
    initialSort: { key: 'name', direction: 'asc' },
    rowClass: u => u.disabled ? 'disabled' : null,
    empty: () => h('div', { class: 'empty-state' }, h('h2', {}, 'No users yet'), h('p', {}, 'Users appear here when they first sign in.')),
    columns: [
      { key: 'name', label: 'Name', sortValue: u => u.name, render: u => h('span', {}, u.name, u.id === self ? h('span', { class: 'badge' }, 'You') : null) },
      { key: 'email', label: 'Email', sortValue: u => u.email, render: u => u.email },
      { key: 'role', label: 'Role', sortValue: u => u.role, render: u => h('span', { class: u.role === 'admin' ? 'badge admin' : 'badge' }, u.role === 'admin' ? 'Admin' : 'User') },
      { key: 'groups', label: 'Groups', sortValue: u => u.groups.join(', '), render: u => u.groups.length === 0 ? h('span', { class: 'muted' }, '—') : u.groups.join(', ') },
      { key: 'status', label: 'Status', sortValue: u => u.disabled ? 1 : 0, render: u => u.disabled ? h('span', { class: 'badge danger' }, 'Disabled') : 'Active' },
      { key: 'createdAt', label: 'Created', sortValue: u => parseTime(u.createdAt) ?? 0, render: u => timeElement(u.createdAt, '—') },
      {
        key: 'actions',
        label: 'Actions',
        hiddenLabel: true,
        className: 'col-actions',
        render: u => menuButton({
          label: `Actions for user ${userLabel(u)}`,
          content: h('span', { 'aria-hidden': 'true' }, '⋮'),
          className: 'icon-button',
          items: [
            { label: 'View API keys', onSelect: () => { location.hash = `#/admin/keys?user=${encodeURIComponent(u.id)}` } },
            u.role === 'admin'
              ? { label: 'Make regular user', onSelect: () => patch(u, { role: 'user' }, `${userLabel(u)} is now a regular user`) }
              : { label: 'Make admin', onSelect: () => patch(u, { role: 'admin' }, `${userLabel(u)} is now an admin`) },
            u.disabled
              ? { label: 'Enable', onSelect: () => patch(u, { disabled: false }, `Enabled ${userLabel(u)}`) }
              : { label: 'Disable', onSelect: () => patch(u, { disabled: true }, `Disabled ${userLabel(u)}; their keys stop working`) },
            { label: 'Delete', danger: true, onSelect: () => { remove(u).catch(showError) } }
          ]
        })
      }
    ]
  })
  add.addEventListener('click', () => openAddUserDialog(ctx, user => {
    rows = [...rows, user]
    table.setRows(rows)
    announce(`Added user ${userLabel(user)}`)
  }))
  replaceChildren(body, table.element)
}
