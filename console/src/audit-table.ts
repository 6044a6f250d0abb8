// Audit events in a table, one API page at a time: newest first as the API lists them, "Older"
// follows the page's cursor and "Newer" goes back. Used by a key's detail view and the Audit page.
import type { AuditEvent, Page } from './api.ts'
import { errorNotice } from './dialog.ts'
import { h, replaceChildren } from './dom.ts'
import { formatDuration, preciseTimeElement } from './format.ts'

export interface EventColumn {
  label: string
  render: (e: AuditEvent) => Node | string
  className?: string
}

const dash = () => h('span', { class: 'muted' }, '—')

const OUTCOME_LABEL: Record<AuditEvent['outcome'], string> = { allowed: 'Allowed', denied: 'Denied', error: 'Error' }
const OUTCOME_BADGE: Record<AuditEvent['outcome'], string> = { allowed: 'badge ok', denied: 'badge warn', error: 'badge danger' }

/** The columns every events table has, in order; others are added around them. */
export const eventColumns = {
  time: { label: 'Time', render: e => preciseTimeElement(e.time), className: 'col-time' },
  method: { label: 'Method', render: e => h('code', {}, e.method) },
  name: { label: 'Name', render: e => e.name === undefined ? dash() : h('span', { class: 'event-name' }, e.name) },
  outcome: { label: 'Outcome', render: e => h('span', { class: OUTCOME_BADGE[e.outcome] }, OUTCOME_LABEL[e.outcome]) },
  code: { label: 'Code', render: e => e.code === undefined ? dash() : h('code', { class: 'event-code' }, e.code) },
  /** Outcome and code in one cell, where a table is short of width. */
  outcomeAndCode: {
    label: 'Outcome',
    render: e => h('span', { class: 'stacked' },
      h('span', { class: OUTCOME_BADGE[e.outcome] }, OUTCOME_LABEL[e.outcome]),
      e.code === undefined ? null : h('code', { class: 'event-code' }, e.code))
  },
  status: { label: 'Status', render: e => String(e.status), className: 'col-number' },
  duration: { label: 'Duration', render: e => formatDuration(e.durationMs), className: 'col-number' },
  ip: { label: 'IP', render: e => h('code', { class: 'event-ip' }, e.ip) }
} satisfies Record<string, EventColumn>

export interface EventsTableOptions {
  caption: string
  columns: EventColumn[]
  /** One page of events after `cursor` (null: the newest). */
  fetchPage: (cursor: string | null) => Promise<Page<AuditEvent>>
  /** Shown when the first page is empty. */
  empty: () => Node
  /** Called with each page shown (the Audit page exports what it filters). */
  onPage?: (events: readonly AuditEvent[]) => void
}

export interface EventsTable {
  element: HTMLElement
  /** Loads the newest page; resolves when it is shown (or its error is). */
  load: () => Promise<void>
}

export function eventsTable (options: EventsTableOptions): EventsTable {
  const element = h('div', { class: 'table-block events' }, h('p', { class: 'loading', role: 'status' }, 'Loading events…'))
  /** The cursor of every page visited so far: cursors[i] opens page i (null: the first). */
  let cursors: Array<string | null> = [null]
  let index = 0
  let loading = false

  const show = async (at: number, focus: 'next' | 'previous' | null) => {
    if (loading) return
    loading = true
    let page: Page<AuditEvent>
    try {
      page = await options.fetchPage(cursors[at] ?? null)
    } catch (err) {
      loading = false
      // Retry asks for the same page again (a button only when that may help).
      replaceChildren(element, errorNotice(err, () => { show(at, null).catch(() => {}) }))
      return
    }
    loading = false
    index = at
    cursors = cursors.slice(0, at + 1)
    if (page.nextCursor !== null) cursors.push(page.nextCursor)
    options.onPage?.(page.items)
    render(page, focus)
  }

  const render = (page: Page<AuditEvent>, focus: 'next' | 'previous' | null) => {
    const hasOlder = page.nextCursor !== null
    if (index === 0 && page.items.length === 0 && !hasOlder) {
      replaceChildren(element, options.empty())
      return
    }
    const table = h('table', { class: 'data-table events-table' },
      h('caption', { class: 'visually-hidden' }, options.caption),
      h('thead', {}, h('tr', {}, options.columns.map(c => h('th', { scope: 'col', class: c.className ?? null }, c.label)))),
      h('tbody', {}, page.items.map(e => h('tr', { 'data-event-id': e.id, class: `outcome-${e.outcome}` },
        options.columns.map(c => h('td', { 'data-label': c.label, class: c.className ?? null }, c.render(e)))))))
    const status = page.items.length === 0
      // A page scans a bounded number of events: it can be empty and still have older ones after it.
      ? `Page ${index + 1}: no matching events in this stretch; older ones may follow`
      : `Page ${index + 1}: ${page.items.length} ${page.items.length === 1 ? 'event' : 'events'}`
    const pager = h('nav', { class: 'pager', 'aria-label': `${options.caption}: pages` },
      h('button', { type: 'button', class: 'secondary', 'data-page': 'previous', disabled: index === 0, onclick: () => { show(index - 1, 'previous').catch(() => {}) } }, 'Newer'),
      h('span', { class: 'pager-status', 'aria-live': 'polite' }, status),
      h('button', { type: 'button', class: 'secondary', 'data-page': 'next', disabled: !hasOlder, onclick: () => { show(index + 1, 'next').catch(() => {}) } }, 'Older'))
    replaceChildren(element, page.items.length === 0 ? null : h('div', { class: 'table-scroll' }, table), pager)
    if (focus !== null) {
      // Keep the focus on the pager (its buttons were re-rendered); a disabled end moves to the other.
      const want = element.querySelector<HTMLButtonElement>(`button[data-page="${focus}"]`)
      const other = element.querySelector<HTMLButtonElement>(`button[data-page="${focus === 'next' ? 'previous' : 'next'}"]`)
      ;(want !== null && !want.disabled ? want : other)?.focus()
    }
  }

  return {
    element,
    load: () => {
      cursors = [null]
      return show(0, null)
    }
  }
}
