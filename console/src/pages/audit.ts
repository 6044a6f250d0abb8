// User Management → Audit (admins): the gateway's audit trail with its filters (kept in the
// address, #/admin/audit?outcome=denied…, so a filtered view can be linked), a page at a time, and
// an export of the filtered view as CSV or JSONL, made in the browser from the API's pages.
import type { AuditEvent, Page, User } from '../api.ts'
import { collectEvents, eventsToCsv, eventsToJsonl, EXPORT_MAX_EVENTS } from '../audit-export.ts'
import { eventColumns, eventsTable, type EventColumn } from '../audit-table.ts'
import type { AppContext } from '../context.ts'
import { field } from '../create-key.ts'
import { errorMessage } from '../dialog.ts'
import { announce, h, replaceChildren, uid } from '../dom.ts'
import { formatCount, parseTime, userLabel } from '../format.ts'
import { adminKeyHref } from './admin-keys.ts'
import { pageHeader } from './keys.ts'

/** The API's filters (GET /api/audit-events), in the order the form shows them. */
const FILTERS = ['keyId', 'userId', 'serverId', 'name', 'outcome', 'since', 'until'] as const
type Filter = typeof FILTERS[number]
type Filters = Partial<Record<Filter, string>>

const PAGE_SIZE = 50
const EXPORT_PAGE_SIZE = 100

export function auditHash (filters: Filters): string {
  const q = new URLSearchParams()
  for (const f of FILTERS) {
    const v = filters[f]
    if (v !== undefined && v !== '') q.set(f, v)
  }
  const s = q.toString()
  return s === '' ? '#/admin/audit' : `#/admin/audit?${s}`
}

/** RFC 3339 → the value of <input type="datetime-local"> in the reader's time zone. */
function localInputValue (iso: string | undefined): string {
  const t = parseTime(iso)
  if (t === null) return ''
  const d = new Date(t)
  const p = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`
}

function download (text: string, type: string, filename: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }))
  const a = h('a', { href: url, download: filename, class: 'offscreen' })
  document.body.appendChild(a)
  a.click()
  a.remove()
  // Revoked once the browser has surely started the download.
  setTimeout(() => URL.revokeObjectURL(url), 60_000)
}

function stamp (d: Date): string {
  return d.toISOString().replace(/[:]/g, '').replace(/\.\d+Z$/, 'Z')
}

export async function renderAudit (ctx: AppContext, section: HTMLElement, params: URLSearchParams): Promise<void> {
  const applied: Filters = {}
  for (const f of FILTERS) {
    const v = params.get(f)
    if (v !== null && v !== '') applied[f] = v
  }

  // The form.
  const keyId = h('input', { type: 'text', id: 'audit-key', name: 'keyId', autocomplete: 'off', spellcheck: 'false', maxlength: 64, value: applied.keyId ?? '' })
  const usersList = h('datalist', { id: uid('audit-users') })
  const userId = h('input', { type: 'text', id: 'audit-user', name: 'userId', autocomplete: 'off', spellcheck: 'false', maxlength: 64, list: usersList.id, value: applied.userId ?? '' })
  const serversList = h('datalist', { id: uid('audit-servers') }, ctx.servers.map(s => h('option', { value: s.id }, s.name)))
  const serverId = h('input', { type: 'text', id: 'audit-server', name: 'serverId', autocomplete: 'off', spellcheck: 'false', maxlength: 64, list: serversList.id, value: applied.serverId ?? '' })
  const name = h('input', { type: 'text', id: 'audit-name', name: 'name', autocomplete: 'off', spellcheck: 'false', maxlength: 512, value: applied.name ?? '' })
  const outcome = h('select', { id: 'audit-outcome', name: 'outcome' },
    h('option', { value: '' }, 'Any outcome'),
    (['allowed', 'denied', 'error'] as const).map(o => h('option', { value: o, selected: applied.outcome === o }, o === 'allowed' ? 'Allowed' : o === 'denied' ? 'Denied' : 'Error')))
  const since = h('input', { type: 'datetime-local', id: 'audit-since', name: 'since', value: localInputValue(applied.since) })
  const until = h('input', { type: 'datetime-local', id: 'audit-until', name: 'until', value: localInputValue(applied.until) })
  const fields = {
    keyId: field('Key ID', keyId),
    userId: field('User ID', userId, 'Pick a user from the list, or paste an id.'),
    serverId: field('Server ID', serverId),
    name: field('Name', name, 'A tool or prompt name, or a resource URI (exact).'),
    outcome: field('Outcome', outcome),
    since: field('Since', since, 'Your local time; from (inclusive).'),
    until: field('Until', until, 'Your local time; to (exclusive).')
  }
  const apply = h('button', { type: 'submit', class: 'primary' }, 'Apply filters')
  const clearFilters = h('button', { type: 'button', class: 'secondary' }, 'Clear')
  const form = h('form', { class: 'form filters', novalidate: true, 'aria-label': 'Filter audit events' },
    h('div', { class: 'filter-grid' }, Object.values(fields).map(f => f.wrapper)),
    usersList, serversList,
    h('div', { class: 'filter-actions' }, clearFilters, apply))

  // The export.
  const exportCsv = h('button', { type: 'button', class: 'secondary' }, 'Export CSV')
  const exportJsonl = h('button', { type: 'button', class: 'secondary' }, 'Export JSONL')
  const exportStatus = h('p', { class: 'export-status', role: 'status' })

  const filtered = FILTERS.some(f => applied[f] !== undefined)
  const usersById = new Map<string, User>()
  const columns: EventColumn[] = [
    eventColumns.time,
    {
      // The key (a link to its detail view) and, below it, its owner.
      label: 'Key',
      render: e => {
        const u = e.userId === null ? undefined : usersById.get(e.userId)
        return h('span', { class: 'stacked' },
          e.keyId === null ? h('span', { class: 'muted' }, '—') : h('a', { href: adminKeyHref({ id: e.keyId }), class: 'event-key' }, h('code', {}, e.keyId)),
          e.userId === null ? null : h('span', { class: 'event-user muted', title: e.userId }, u === undefined ? e.userId : userLabel(u)))
      }
    },
    { label: 'Server', render: e => e.serverId === null ? h('span', { class: 'muted' }, '—') : e.serverId },
    eventColumns.method,
    eventColumns.name,
    eventColumns.outcomeAndCode,
    eventColumns.status,
    eventColumns.duration,
    eventColumns.ip
  ]
  const query = (cursor: string | null, limit: number) => {
    const q = new URLSearchParams()
    for (const f of FILTERS) if (applied[f] !== undefined) q.set(f, applied[f])
    q.set('limit', String(limit))
    if (cursor !== null) q.set('cursor', cursor)
    return `/api/audit-events?${q.toString()}`
  }
  const events = eventsTable({
    caption: filtered ? 'Audit events matching the filters' : 'Audit events',
    columns,
    fetchPage: cursor => ctx.api.get<Page<AuditEvent>>(query(cursor, PAGE_SIZE)),
    empty: () => h('div', { class: 'empty-state' },
      h('h2', {}, 'No audit events'),
      h('p', {}, filtered ? 'No event matches these filters.' : 'The gateway has recorded no MCP request yet.'))
  })

  replaceChildren(section,
    pageHeader('Audit', exportCsv, exportJsonl),
    h('p', { class: 'page-intro' }, 'One event per MCP request through the gateway and per refusal, newest first. Exports hold the filtered events, at most ',
      formatCount(EXPORT_MAX_EVENTS), '.'),
    form,
    exportStatus,
    events.element)

  form.addEventListener('submit', event => {
    event.preventDefault()
    for (const f of Object.values(fields)) f.setError(null)
    const next: Filters = {
      keyId: keyId.value.trim(),
      userId: userId.value.trim(),
      serverId: serverId.value.trim(),
      name: name.value.trim(),
      outcome: outcome.value
    }
    for (const [input, key] of [[since, 'since'], [until, 'until']] as const) {
      if (input.value === '') continue
      const t = new Date(input.value).getTime()
      if (Number.isNaN(t)) {
        fields[key].setError('Enter a date and time.')
        input.focus()
        return
      }
      next[key] = new Date(t).toISOString()
    }
    if (next.since !== undefined && next.until !== undefined && next.since >= next.until) {
      fields.until.setError('Until must be after Since.')
      until.focus()
      return
    }
    const hash = auditHash(next)
    // The same filters again: reload them (no hashchange fires).
    if (hash === location.hash) events.load().catch(() => {})
    else location.hash = hash
  })
  clearFilters.addEventListener('click', () => { location.hash = auditHash({}) })

  let exporting = false
  const runExport = async (format: 'csv' | 'jsonl') => {
    if (exporting) return
    exporting = true
    exportCsv.disabled = true
    exportJsonl.disabled = true
    exportStatus.classList.remove('error')
    exportStatus.textContent = 'Exporting…'
    try {
      const { events: all, truncated } = await collectEvents(
        cursor => ctx.api.get<Page<AuditEvent>>(query(cursor, EXPORT_PAGE_SIZE)),
        EXPORT_MAX_EVENTS,
        n => { exportStatus.textContent = `Exporting… ${formatCount(n)} events so far` })
      const filename = `mcpgate-audit-${stamp(new Date())}.${format}`
      if (format === 'csv') download(eventsToCsv(all), 'text/csv;charset=utf-8', filename)
      else download(eventsToJsonl(all), 'application/x-ndjson;charset=utf-8', filename)
      exportStatus.textContent = truncated
        ? `Exported the newest ${formatCount(all.length)} events to ${filename}: more match these filters. Narrow them (Since, Until) to export the rest.`
        : `Exported ${formatCount(all.length)} ${all.length === 1 ? 'event' : 'events'} to ${filename}.`
      if (truncated) exportStatus.classList.add('warning')
      else exportStatus.classList.remove('warning')
    } catch (err) {
      exportStatus.classList.add('error')
      exportStatus.textContent = `The export failed: ${errorMessage(err)}`
    } finally {
      exporting = false
      exportCsv.disabled = false
      exportJsonl.disabled = false
    }
  }
  exportCsv.addEventListener('click', () => { runExport('csv').catch(() => {}) })
  exportJsonl.addEventListener('click', () => { runExport('jsonl').catch(() => {}) })

  // Users' names for the User column and the user id list; the page works without them.
  const users = ctx.api.listAll<User>('/api/users').then(({ items }) => {
    for (const u of [...items].sort((a, b) => userLabel(a).localeCompare(userLabel(b)))) {
      usersById.set(u.id, u)
      usersList.appendChild(h('option', { value: u.id }, userLabel(u)))
    }
  }, () => {})
  await users
  await events.load()
  if (filtered) announce('Filters applied')
}
