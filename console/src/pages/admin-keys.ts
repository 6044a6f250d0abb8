// User Management → API Keys: every user's keys with their owner; filter by user, rotate or delete
// any key; a key's name opens its details.
import { path, type ApiKey, type User } from '../api.ts'
import { userCanReach } from '../../../core/access.ts'
import type { AppContext } from '../context.ts'
import { confirmDialog } from '../dialog.ts'
import { announce, h, replaceChildren } from '../dom.ts'
import { userLabel } from '../format.ts'
import { keyColumns, type KeyServerOptions } from '../key-columns.ts'
import { openRotateKeyDialog } from '../rotate-key.ts'
import { sortableTable } from '../table.ts'
import { deleteKeyMessage, loading, pageError, pageHeader } from './keys.ts'

/** The admin's detail view of any key. */
export function adminKeyHref (key: Pick<ApiKey, 'id'>): string {
  return `#/admin/keys/key?id=${encodeURIComponent(key.id)}`
}

/** Any key's servers, judged by what its owner (when known) can reach. */
export function adminKeyServers (ctx: AppContext, owners: ReadonlyMap<string, User>): KeyServerOptions {
  return {
    catalogue: new Map(ctx.servers.map(s => [s.id, s])),
    catalogueIsComplete: true,
    ownerCanReach: (server, key) => {
      const owner = owners.get(key.userId)
      return owner === undefined || server.access === undefined || userCanReach(server.access, owner)
    },
    allServersFor: key => {
      const owner = owners.get(key.userId)
      return ctx.servers.filter(s => owner === undefined || s.access === undefined || userCanReach(s.access, owner))
    }
  }
}

export async function renderAdminKeys (ctx: AppContext, section: HTMLElement, params: URLSearchParams): Promise<void> {
  const userId = params.get('user') ?? ''
  const body = h('div', {}, loading())
  const filter = h('select', { id: 'user-filter', name: 'user' }, h('option', { value: '' }, 'All users'))
  replaceChildren(section,
    pageHeader('All API Keys'),
    h('p', { class: 'page-intro' }, 'Every API key of every user. Deleting a key stops it on every gateway at once.'),
    h('div', { class: 'toolbar' }, h('label', { for: filter.id }, 'Filter by user'), filter),
    body)

  let users: User[]
  let rows: ApiKey[]
  let truncated: boolean
  try {
    const [u, k] = await Promise.all([
      ctx.api.listAll<User>('/api/users'),
      ctx.api.listAll<ApiKey>('/api/admin-api-keys', userId === '' ? {} : { userId })
    ])
    users = u.items
    rows = k.items
    truncated = k.truncated
  } catch (err) {
    replaceChildren(body, pageError(err, ctx.reload))
    return
  }

  const usersById = new Map(users.map(u => [u.id, u]))
  for (const u of [...users].sort((a, b) => userLabel(a).localeCompare(userLabel(b)))) {
    filter.appendChild(h('option', { value: u.id, selected: u.id === userId }, userLabel(u)))
  }
  filter.addEventListener('change', () => {
    location.hash = filter.value === '' ? '#/admin/keys' : `#/admin/keys?user=${encodeURIComponent(filter.value)}`
  })

  const servers = adminKeyServers(ctx, usersById)
  const filteredUser = usersById.get(userId)
  const table = sortableTable<ApiKey>({
    caption: filteredUser === undefined ? 'All API keys' : `API keys of ${userLabel(filteredUser)}`,
    rows,
    initialSort: { key: 'createdAt', direction: 'desc' },
    rowClass: k => k.expiresAt !== null && Date.parse(k.expiresAt) <= Date.now() ? 'expired' : null,
    empty: () => h('div', { class: 'empty-state' },
      h('h2', { tabindex: -1 }, 'No API keys'),
      h('p', {}, filteredUser === undefined ? 'No user has created an API key yet.' : `${userLabel(filteredUser)} has no API keys.`)),
    columns: keyColumns({
      ...servers,
      withUser: true,
      detailHref: adminKeyHref,
      now: () => Date.now(),
      onRotate: key => openRotateKeyDialog(ctx, key, {
        admin: true,
        everyServer: servers.allServersFor(key),
        onRotated: rotated => {
          rows = rows.map(r => r.id === rotated.id ? rotated : r)
          table.setRows(rows)
          announce(`Rotated API key ${rotated.name}`)
        }
      }),
      onDelete: key => {
        confirmDialog({
          title: 'Delete API key',
          message: deleteKeyMessage(key),
          confirmLabel: 'Delete API key',
          action: () => ctx.api.delete(path`/api/admin-api-keys/${key.id}`)
        }).then(deleted => {
          if (!deleted) return
          rows = rows.filter(r => r.id !== key.id)
          // The focus goes on to the next key's ⋮, or with the last key gone to the empty state's heading.
          table.setRows(rows, { near: key, control: '[data-key-actions] > button', whenEmpty: () => table.element.querySelector<HTMLElement>('.empty-state h2') })
          announce(`Deleted API key ${key.name}`)
        }, () => {})
      }
    })
  })
  replaceChildren(body,
    truncated ? h('div', { class: 'notice' }, `Showing the newest ${rows.length} keys. Filter by user to see the rest.`) : null,
    table.element)
}
