// The API key table's columns, shared by "API Keys" (own keys) and the admin's all-keys list.
import type { ApiKey, McpServer } from './api.ts'
import { keyRuleFor } from '../../core/tool-scope.ts'
import { h, uid } from './dom.ts'
import { parseTime, plural, timeElement } from './format.ts'
import { menuButton } from './menu.ts'
import { ruleText, scopeCounts } from './scope-text.ts'
import type { Column } from './table.ts'

/** What the console knows of the servers a key may reach, for its Servers cell. */
export interface KeyServerOptions {
  /** Every server id the console knows about (the caller's catalogue). */
  catalogue: ReadonlyMap<string, McpServer>
  /** Admins get every configured server; a user only those they can reach (missing ≠ deleted). */
  catalogueIsComplete: boolean
  /** Whether the key's owner can still reach a server that exists. */
  ownerCanReach: (server: McpServer, key: ApiKey) => boolean
  /** Servers "*" expands to, for the hover text and the expanded list. */
  allServersFor: (key: ApiKey) => McpServer[]
}

export interface KeyColumnOptions extends KeyServerOptions {
  withUser: boolean
  /** The key's detail view (usage, events). */
  detailHref: (key: ApiKey) => string
  onRotate: (key: ApiKey) => void
  onDelete: (key: ApiKey) => void
  now: () => number
}

export function isExpired (key: ApiKey, now: number): boolean {
  const t = parseTime(key.expiresAt)
  return t !== null && t <= now
}

/**
 * "2 servers · 5 tools" as a disclosure button: the names (and each server's rule) expand below it,
 * for keyboard and touch alike; the hover title stays for mice.
 */
export function serversCell (key: ApiKey, o: KeyServerOptions): Node {
  const all = key.mcpServerIds[0] === '*'
  const problems: string[] = []
  const entries: Array<{ id: string, label: string }> = all
    ? o.allServersFor(key).map(s => ({ id: s.id, label: s.name }))
    : key.mcpServerIds.map(id => {
      const server = o.catalogue.get(id)
      if (server === undefined) {
        const why = o.catalogueIsComplete ? 'no longer exists' : 'no longer exists or is no longer reachable'
        problems.push(`${id} ${why}`)
        return { id, label: `${id} (${why})` }
      }
      if (!o.ownerCanReach(server, key)) {
        problems.push(`the owner can no longer reach ${server.name}`)
        return { id, label: `${server.name} (no longer reachable)` }
      }
      return { id, label: server.name }
    })
  const names = entries.map(e => e.label)
  const everyServer = `Every MCP server the owner can reach, now and later${names.length > 0 ? `: ${names.join(', ')}` : ''}`
  const summary = [all ? 'All servers' : plural(key.mcpServerIds.length, 'server', 'servers'), ...scopeCounts(key.scopes, key.mcpServerIds)].join(' · ')

  const listId = uid('key-servers')
  const details = h('div', { class: 'server-details', id: listId, hidden: true },
    all ? h('p', {}, 'Every MCP server the owner can reach, now and later') : null,
    entries.length === 0
      ? null
      : h('ul', {}, entries.map(e => h('li', {},
        h('span', { class: 'server-name' }, e.label),
        key.scopes === undefined ? null : h('span', { class: 'server-rule' }, ruleText(keyRuleFor(key.scopes, e.id)))))),
    all && key.scopes?.['*'] !== undefined ? h('p', { class: 'server-rule' }, `Servers added later: ${ruleText(key.scopes['*'])}`) : null)
  const button = h('button', {
    type: 'button',
    class: 'server-count disclosure',
    'aria-expanded': 'false',
    'aria-controls': listId,
    title: all ? null : names.join(', ')
  }, summary)
  button.addEventListener('click', () => {
    const open = button.getAttribute('aria-expanded') !== 'true'
    button.setAttribute('aria-expanded', String(open))
    details.hidden = !open
  })
  return h('span', { class: 'servers', title: all ? everyServer : null },
    button,
    problems.length === 0
      ? null
      : h('span', { class: 'badge warn', title: problems.join('; '), 'data-flag': 'unavailable' },
        `⚠ ${problems.length} unavailable`,
        h('span', { class: 'visually-hidden' }, `: ${problems.join('; ')}`)),
    details)
}

/** Whether the secret before the last rotation still works now. */
export function previousSecretWorks (key: ApiKey, now: number): boolean {
  const until = parseTime(key.previousSecretValidUntil)
  return until !== null && until > now
}

/** When the key was last rotated and, while it still works, until when its old secret does. */
export function rotationCell (key: ApiKey, now: number): Node {
  if (key.rotatedAt === undefined) return h('span', { class: 'muted' }, 'Never')
  return h('span', { class: 'rotation' },
    timeElement(key.rotatedAt, 'Never'),
    previousSecretWorks(key, now)
      ? h('span', { class: 'old-key muted' }, 'Old key works until ', timeElement(key.previousSecretValidUntil ?? null, ''))
      : null)
}

export function keyColumns (o: KeyColumnOptions): Array<Column<ApiKey>> {
  const columns: Array<Column<ApiKey> | null> = [
    {
      key: 'name',
      label: 'Name',
      sortValue: k => k.name,
      // A link to the key's detail view: its usage and audit events.
      // An OAuth grant says so, with the host its client receives codes at.
      render: k => k.oauth === undefined
        ? h('a', { class: 'key-name', href: o.detailHref(k) }, k.name)
        : h('span', { class: 'key-name-cell' },
          h('a', { class: 'key-name', href: o.detailHref(k) }, k.name), ' ',
          h('span', { class: 'badge', title: `An OAuth grant to ${k.oauth.clientName} (${k.oauth.redirectHost}); delete it to revoke the grant`, 'data-flag': 'oauth' }, 'OAuth')),
      className: 'col-name'
    },
    o.withUser
      ? {
          key: 'user',
          label: 'User',
          sortValue: k => `${k.user?.name ?? ''} ${k.user?.email ?? k.userId}`,
          // A service account may have no email: its kind instead, never an empty line.
          render: k => h('span', { class: 'user-cell' },
            h('span', { class: 'user-name' }, k.user?.name ?? k.userId),
            k.user === undefined || k.user.email === '' ? null : h('span', { class: 'user-email muted' }, k.user.email),
            k.user?.kind === 'service' ? h('span', { class: 'badge' }, 'Service account') : null)
        }
      : null,
    {
      key: 'description',
      label: 'Description',
      sortValue: k => k.description,
      render: k => k.description === '' ? h('span', { class: 'muted' }, '—') : h('span', { class: 'description' }, k.description),
      className: 'col-description'
    },
    {
      key: 'servers',
      label: 'Servers',
      sortValue: k => k.mcpServerIds[0] === '*' ? Number.MAX_SAFE_INTEGER : k.mcpServerIds.length,
      render: k => serversCell(k, o)
    },
    {
      key: 'createdAt',
      label: 'Created',
      sortValue: k => parseTime(k.createdAt) ?? 0,
      render: k => timeElement(k.createdAt, '—')
    },
    {
      key: 'lastUsedAt',
      label: 'Last Used',
      // Never used sorts as the oldest use.
      sortValue: k => parseTime(k.lastUsedAt) ?? Number.NEGATIVE_INFINITY,
      render: k => timeElement(k.lastUsedAt, 'Never')
    },
    {
      key: 'rotatedAt',
      label: 'Rotated',
      // Never rotated sorts as the oldest rotation.
      sortValue: k => parseTime(k.rotatedAt) ?? Number.NEGATIVE_INFINITY,
      render: k => rotationCell(k, o.now())
    },
    {
      key: 'expiresAt',
      label: 'Expires',
      // Never expiring sorts as the latest expiry.
      sortValue: k => parseTime(k.expiresAt) ?? Number.POSITIVE_INFINITY,
      render: k => isExpired(k, o.now())
        ? h('span', { class: 'expiry' }, timeElement(k.expiresAt, 'Never'), ' ', h('span', { class: 'badge danger' }, 'Expired'))
        : timeElement(k.expiresAt, 'Never')
    },
    {
      key: 'actions',
      label: 'Actions',
      hiddenLabel: true,
      className: 'col-actions',
      render: k => {
        const menu = menuButton({
          label: `Actions for API key ${k.name}`,
          content: h('span', { 'aria-hidden': 'true' }, '⋮'),
          className: 'icon-button',
          items: [
            { label: 'View details', onSelect: () => { location.hash = o.detailHref(k) } },
            // A grant has no secret to rotate: its client renews its own tokens.
            ...(k.oauth === undefined ? [{ label: 'Rotate', onSelect: () => o.onRotate(k) }] : []),
            { label: k.oauth === undefined ? 'Delete' : 'Revoke', danger: true, onSelect: () => o.onDelete(k) }
          ]
        })
        // Lets a dialog return the focus to this row's menu after the row was re-rendered.
        menu.dataset.keyActions = k.id
        return menu
      }
    }
  ]
  return columns.filter((c): c is Column<ApiKey> => c !== null)
}
