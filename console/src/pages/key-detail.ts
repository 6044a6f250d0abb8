// One key in detail (#/keys/key?id=… for your own, #/admin/keys/key?id=… for an admin's view of
// any key): its record with the rotation state, what is left of its rate limits and quotas, its
// calls per day over the last 30 days, top tools, last use, and its audit events a page at a time;
// rotate and delete from here too.
import { path, type ApiKey, type AuditEvent, type KeyUsage, type Page, type User } from '../api.ts'
import { eventColumns, eventsTable, type EventColumn } from '../audit-table.ts'
import type { AppContext } from '../context.ts'
import { confirmDialog } from '../dialog.ts'
import { announce, h, replaceChildren } from '../dom.ts'
import { formatCount, plural, timeElement, userLabel } from '../format.ts'
import { isExpired, previousSecretWorks, serversCell, type KeyServerOptions } from '../key-columns.ts'
import { limitList } from '../limits.ts'
import { openRotateKeyDialog } from '../rotate-key.ts'
import { usageChart } from '../usage-chart.ts'
import { adminKeyServers } from './admin-keys.ts'
import { deleteKeyMessage, loading, ownKeyServers, pageError, pageHeader } from './keys.ts'

/** Events per page of the key's recent events. */
const EVENTS_PAGE = 20

function row (term: string, ...value: Array<Node | string | null>): HTMLElement[] {
  return [h('dt', {}, term), h('dd', {}, value)]
}

function metadata (key: ApiKey, servers: KeyServerOptions, admin: boolean): HTMLElement {
  const now = Date.now()
  const rotated = key.rotatedAt !== undefined
  return h('dl', { class: 'meta' },
    row('Key ID', h('code', {}, key.id)),
    admin && key.user !== undefined ? row('Owner', userLabel(key.user)) : null,
    row('Description', key.description === '' ? h('span', { class: 'muted' }, '—') : key.description),
    // An OAuth grant: which client holds it, and where its codes went.
    key.oauth === undefined ? null : row('OAuth client', h('span', {}, key.oauth.clientName, ' ', h('span', { class: 'muted' }, `(sends to ${key.oauth.redirectHost})`))),
    row('Servers', serversCell(key, servers)),
    row('Created', timeElement(key.createdAt, '—')),
    row('Expires', timeElement(key.expiresAt, 'Never'), isExpired(key, now) ? h('span', { class: 'badge danger' }, 'Expired') : null),
    row('Last used', timeElement(key.lastUsedAt, 'Never')),
    row('Rotated', rotated
      ? h('span', {}, timeElement(key.rotatedAt ?? null, 'Never'), key.secretGeneration === undefined ? null : h('span', { class: 'muted' }, ` · ${plural(key.secretGeneration, 'rotation', 'rotations')} so far`))
      : h('span', { class: 'muted' }, 'Never')),
    rotated
      ? row('Old key valid until', key.previousSecretValidUntil === undefined
        ? h('span', { class: 'muted' }, '—')
        : previousSecretWorks(key, now)
          ? timeElement(key.previousSecretValidUntil, '—')
          : h('span', {}, timeElement(key.previousSecretValidUntil, '—'), h('span', { class: 'muted' }, ' (no longer works)')))
      : null)
}

function topTools (usage: KeyUsage): HTMLElement {
  if (usage.topTools.length === 0) return h('p', { class: 'muted' }, 'No tool calls in the last 30 days.')
  return h('table', { class: 'data-table compact' },
    h('caption', { class: 'visually-hidden' }, 'Most called tools, last 30 days'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Tool'), h('th', { scope: 'col', class: 'col-number' }, 'Calls'))),
    h('tbody', {}, usage.topTools.map(t => h('tr', {},
      h('td', { 'data-label': 'Tool' }, h('code', {}, t.name)),
      h('td', { 'data-label': 'Calls', class: 'col-number' }, formatCount(t.calls))))))
}

function lastUsed (usage: KeyUsage): HTMLElement {
  const last = usage.lastUsed
  if (last === null) return h('p', { class: 'muted' }, 'Not used in the last 30 days.')
  return h('dl', { class: 'meta' },
    row('Time', timeElement(last.time, '—')),
    row('IP address', h('code', {}, last.ip)),
    row('User agent', last.userAgent === null ? h('span', { class: 'muted' }, '—') : h('span', { class: 'user-agent' }, last.userAgent)))
}

/** Which of the key's secrets an event's request used, once the key has been rotated. */
function secretColumn (key: ApiKey): EventColumn {
  const current = key.secretGeneration ?? 0
  return {
    label: 'Secret',
    render: (e: AuditEvent) => e.secretGeneration === undefined
      ? h('span', { class: 'muted' }, '—')
      : e.secretGeneration === current
        ? 'Current'
        : e.secretGeneration === current - 1 ? h('span', { class: 'badge warn' }, 'Previous') : `Generation ${e.secretGeneration}`
  }
}

function card (title: string, id: string, ...children: Array<Node | null>): HTMLElement {
  return h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id }, title), children)
}

export function keyDetailPage (admin: boolean) {
  return async function renderKeyDetail (ctx: AppContext, section: HTMLElement, params: URLSearchParams): Promise<void> {
    const id = params.get('id') ?? ''
    const listHash = admin ? '#/admin/keys' : '#/keys'
    const back = h('p', { class: 'back-link' }, h('a', { href: listHash }, admin ? '← All API Keys' : '← API Keys'))
    const body = h('div', {}, loading())
    replaceChildren(section, back, pageHeader('API key'), body)

    const base = admin ? path`/api/admin-api-keys/${id}` : path`/api/api-keys/${id}`
    let key: ApiKey
    let owners = new Map<string, User>()
    try {
      key = await ctx.api.get<ApiKey>(base)
      if (admin) {
        // The owner's groups decide which servers "*" and the Servers cell show; a gone owner shows none.
        const owner = await ctx.api.get<User>(path`/api/users/${key.userId}`).catch(() => null)
        if (owner !== null) owners = new Map([[owner.id, owner]])
      }
    } catch (err) {
      replaceChildren(body, pageError(err, ctx.reload))
      return
    }
    const servers = admin ? adminKeyServers(ctx, owners) : ownKeyServers(ctx)
    document.title = `${key.name} · API key · mcpgate`

    const meta = h('div', {}, metadata(key, servers, admin))
    const rotate = h('button', { type: 'button', class: 'secondary' }, 'Rotate')
    // A grant has no secret to rotate; deleting it revokes it.
    const grant = key.oauth !== undefined
    const remove = h('button', { type: 'button', class: 'secondary danger-text' }, grant ? 'Revoke' : 'Delete')
    replaceChildren(section, back, grant ? pageHeader(key.name, remove) : pageHeader(key.name, rotate, remove), body)

    rotate.addEventListener('click', () => openRotateKeyDialog(ctx, key, {
      admin,
      ...(admin ? { everyServer: servers.allServersFor(key) } : {}),
      onRotated: rotated => {
        key = rotated
        replaceChildren(meta, metadata(key, servers, admin))
        announce(`Rotated API key ${key.name}`)
      }
    }))
    remove.addEventListener('click', () => {
      confirmDialog({
        title: 'Delete API key',
        message: deleteKeyMessage(key),
        confirmLabel: 'Delete API key',
        action: () => ctx.api.delete(base)
      }).then(deleted => {
        if (!deleted) return
        announce(`Deleted API key ${key.name}`)
        location.hash = listHash
      }, () => {})
    })

    // Shown once the usage says which limits apply (none: no card).
    const limitsBody = h('div', {})
    const limitsCard = card('Limits', 'key-limits', limitsBody)
    limitsCard.hidden = true
    const usageBody = h('div', {}, loading())
    const toolsBody = h('div', {}, loading())
    const lastBody = h('div', {}, loading())
    const columns: EventColumn[] = [eventColumns.time, eventColumns.method, eventColumns.name, eventColumns.outcome, eventColumns.code, eventColumns.status, eventColumns.duration]
    if (key.secretGeneration !== undefined) columns.push(secretColumn(key))
    const events = eventsTable({
      caption: `Audit events of the API key ${key.name}`,
      columns,
      fetchPage: cursor => ctx.api.get<Page<AuditEvent>>(`/api/audit-events?${new URLSearchParams({ keyId: key.id, limit: String(EVENTS_PAGE), ...(cursor === null ? {} : { cursor }) }).toString()}`),
      empty: () => h('p', { class: 'empty-events muted' }, 'No audit events for this key.')
    })

    replaceChildren(body,
      card('Details', 'key-details', meta),
      limitsCard,
      card('Usage, last 30 days', 'key-usage', usageBody),
      h('div', { class: 'card-row' },
        card('Top tools', 'key-top-tools', toolsBody),
        card('Last used', 'key-last-used', lastBody)),
      card('Recent events', 'key-events',
        admin ? h('p', { class: 'card-intro' }, h('a', { href: `#/admin/audit?keyId=${encodeURIComponent(key.id)}` }, 'Filter and export these events on the Audit page')) : null,
        events.element))

    const usage = ctx.api.get<KeyUsage>(`${base}/usage`).then(u => {
      const limits = limitList(u.limits, admin ? 'admin' : 'owner')
      replaceChildren(limitsBody, limits)
      limitsCard.hidden = limits === null
      replaceChildren(usageBody, usageChart(u))
      replaceChildren(toolsBody, topTools(u))
      replaceChildren(lastBody, lastUsed(u))
    }, (err: unknown) => {
      replaceChildren(usageBody, pageError(err, ctx.reload))
      for (const el of [toolsBody, lastBody]) replaceChildren(el, pageError(err))
    })
    await Promise.all([usage, events.load()])
  }
}
