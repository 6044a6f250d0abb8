// "API Keys": the caller's own keys, with create, rotate and delete; a key's name opens its details.
// Above them, what is left of the caller's totals across all of their keys, when there are any.
import { path, type ApiKey, type Me } from '../api.ts'
import { userCanReach } from '../../../core/access.ts'
import { choosableServers, type AppContext } from '../context.ts'
import { openCreateKeyDialog } from '../create-key.ts'
import { confirmDialog, errorNotice as pageError } from '../dialog.ts'
import { announce, h, replaceChildren } from '../dom.ts'
import { userLabel } from '../format.ts'
import { keyColumns, type KeyServerOptions } from '../key-columns.ts'
import { userTotals } from '../limits.ts'
import { openRotateKeyDialog } from '../rotate-key.ts'
import { sortableTable } from '../table.ts'

export function pageHeader (title: string, ...actions: Node[]): HTMLElement {
  return h('div', { class: 'page-header' }, h('h1', { id: 'page-title', tabindex: -1 }, title), h('div', { class: 'page-actions' }, actions))
}

export function loading (): HTMLElement {
  return h('p', { class: 'loading', role: 'status' }, 'Loading…')
}

export { errorNotice as pageError } from '../dialog.ts'

export function deleteKeyMessage (key: ApiKey): Node {
  return h('p', {}, 'Delete the API key ', h('strong', {}, `“${key.name}”`),
    key.user === undefined ? null : ` of ${userLabel(key.user)}`,
    '? Clients using it stop working at once. This cannot be undone.')
}

/** The detail view of one of your keys. */
export function ownKeyHref (key: Pick<ApiKey, 'id'>): string {
  return `#/keys/key?id=${encodeURIComponent(key.id)}`
}

/** Your keys' servers: your catalogue, and what you can reach now. */
export function ownKeyServers (ctx: AppContext): KeyServerOptions {
  return {
    catalogue: new Map(ctx.servers.map(s => [s.id, s])),
    catalogueIsComplete: ctx.isAdmin,
    // Servers you can no longer reach are listed with reachable=false (admins) or not at all.
    ownerCanReach: server => server.reachable !== false && (ctx.me.user === null || server.access === undefined || userCanReach(server.access, ctx.me.user)),
    allServersFor: () => choosableServers(ctx)
  }
}

export async function renderMyKeys (ctx: AppContext, section: HTMLElement): Promise<void> {
  const hasAccount = ctx.me.user !== null
  const create = h('button', { type: 'button', class: 'primary', disabled: !hasAccount }, 'Create API key')
  const body = h('div', {}, loading())
  const totals = h('div', { class: 'limits-summary' })
  replaceChildren(section,
    pageHeader('API Keys', create),
    h('p', { class: 'page-intro' }, 'API keys let MCP clients (IDEs, agents, scripts) reach MCP servers through the gateway at ',
      h('code', {}, ctx.config.gatewayUrl), '. Each key is shown once, when it is created.'),
    totals,
    hasAccount
      ? null
      : h('div', { class: 'notice' }, 'You are signed in with the bootstrap admin token, which is not a user and owns no keys. Sign in with single sign-on to create your own keys, or manage everyone\'s keys under User Management.'),
    body)

  // What is left now, not at sign-in: GET /api/me again. The page works without it.
  const me = hasAccount ? ctx.api.get<Me>('/api/me').then(m => { replaceChildren(totals, userTotals(m.limits)) }, () => {}) : Promise.resolve()
  let rows: ApiKey[]
  try {
    rows = (await ctx.api.listAll<ApiKey>('/api/api-keys')).items
  } catch (err) {
    replaceChildren(body, pageError(err, ctx.reload))
    return
  } finally {
    await me
  }

  const openCreate = () => openCreateKeyDialog(ctx, created => {
    const { key: _secret, ...record } = created
    rows = [record, ...rows]
    table.setRows(rows)
  }, { existingNames: rows.map(r => r.name) })
  const table = sortableTable<ApiKey>({
    caption: 'Your API keys',
    rows,
    initialSort: { key: 'createdAt', direction: 'desc' },
    rowClass: k => k.expiresAt !== null && Date.parse(k.expiresAt) <= Date.now() ? 'expired' : null,
    empty: () => h('div', { class: 'empty-state' },
      h('h2', {}, 'No API keys yet'),
      h('p', {}, 'Create a key to connect an MCP client such as Claude Code or VS Code to the servers you can reach.'),
      hasAccount ? h('button', { type: 'button', class: 'primary', onclick: openCreate }, 'Create your first API key') : null),
    columns: keyColumns({
      ...ownKeyServers(ctx),
      withUser: false,
      detailHref: ownKeyHref,
      now: () => Date.now(),
      onRotate: key => openRotateKeyDialog(ctx, key, {
        admin: false,
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
          action: () => ctx.api.delete(path`/api/api-keys/${key.id}`)
        }).then(deleted => {
          if (!deleted) return
          rows = rows.filter(r => r.id !== key.id)
          // The focus goes on to the next key's ⋮, or with the last key gone to "Create your first API key".
          table.setRows(rows, { near: key, control: '[data-key-actions] > button', whenEmpty: () => table.element.querySelector<HTMLElement>('.empty-state button') })
          announce(`Deleted API key ${key.name}`)
        }, () => {})
      }
    })
  })
  create.addEventListener('click', openCreate)
  replaceChildren(body, table.element)
}
