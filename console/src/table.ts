// A sortable, paginated table. Rows are sorted and paged in the browser: list endpoints are
// read to the end first (Api.listAll), so sorting is over every row, not just one page.
import { h, replaceChildren, uid } from './dom.ts'
import { sortRows, type SortDirection, type SortValue } from './sort.ts'

export interface Column<T> {
  key: string
  label: string
  /** Absent: not sortable (e.g. the actions column). */
  sortValue?: (row: T) => SortValue
  render: (row: T) => Node | string
  className?: string
  /** Visually hidden header (the actions column). */
  hiddenLabel?: boolean
}

export interface TableOptions<T> {
  caption: string
  columns: Array<Column<T>>
  rows: T[]
  rowClass?: (row: T) => string | null
  empty: () => Node
  initialSort: { key: string, direction: SortDirection }
  pageSize?: number
}

/** Where the focus goes when a row the reader acted on is gone (deleted): not to the page's body. */
export interface KeepFocus<T> {
  /** The row that was acted on (the same object the table was given). */
  near: T
  /** The control to focus in the row now at its place, e.g. the ⋮ button. */
  control: string
  /** No rows left: e.g. the empty state's button or heading. */
  whenEmpty: () => HTMLElement | null
}

export interface TableHandle<T> {
  element: HTMLElement
  /**
   * The rows change. With `keepFocus`, the focus moves to the same control in the row now where
   * `near` was (the next row, or the new last one), or to `whenEmpty()` when none is left.
   */
  setRows: (rows: T[], keepFocus?: KeepFocus<T>) => void
}

/**
 * Marks the scroll box while its table is wider than it (data-overflows), so that the sticky ⋮
 * column draws its edge shadow only when something scrolls under it.
 */
const overflowWatch = typeof ResizeObserver === 'function'
  ? new ResizeObserver(entries => {
    for (const { target } of entries) {
      if (target instanceof HTMLElement) target.toggleAttribute('data-overflows', target.scrollWidth > target.clientWidth + 1)
    }
  })
  : null

export function sortableTable<T> (options: TableOptions<T>): TableHandle<T> {
  const pageSize = options.pageSize ?? 20
  let rows = options.rows
  let sort = options.initialSort
  let page = 0
  /** The rows on the page shown now, in order. */
  let shown: T[] = []
  /** The rendered table's scroll box, watched for overflow. */
  let scrollBox: HTMLElement | null = null
  const element = h('div', { class: 'table-block' })
  const sortId = uid('sort')

  const turn = (delta: number) => {
    page += delta
    render()
    // Keep the focus on the pager (the buttons were re-rendered); a disabled end moves to the other.
    const want = element.querySelector<HTMLButtonElement>(`button[data-page="${delta > 0 ? 'next' : 'previous'}"]`)
    const other = element.querySelector<HTMLButtonElement>(`button[data-page="${delta > 0 ? 'previous' : 'next'}"]`)
    ;(want !== null && !want.disabled ? want : other)?.focus()
  }

  const render = () => {
    if (rows.length === 0) {
      shown = []
      replaceChildren(element, options.empty())
      return
    }
    const column = options.columns.find(c => c.key === sort.key)
    const sorted = column?.sortValue === undefined ? rows : sortRows(rows, column.sortValue, sort.direction)
    const pages = Math.max(1, Math.ceil(sorted.length / pageSize))
    page = Math.min(page, pages - 1)
    const visible = sorted.slice(page * pageSize, (page + 1) * pageSize)
    shown = visible

    const head = h('tr', {}, options.columns.map(c => {
      const active = c.key === sort.key
      const ariaSort = active ? (sort.direction === 'asc' ? 'ascending' : 'descending') : null
      if (c.sortValue === undefined) {
        return h('th', { scope: 'col', class: c.className ?? null }, c.hiddenLabel === true ? h('span', { class: 'visually-hidden' }, c.label) : c.label)
      }
      const button = h('button', {
        type: 'button',
        class: 'sort-button',
        'data-sort-key': c.key,
        onclick: () => {
          sort = { key: c.key, direction: active && sort.direction === 'asc' ? 'desc' : 'asc' }
          page = 0
          render()
          element.querySelector<HTMLButtonElement>(`button[data-sort-key="${c.key}"]`)?.focus()
        }
      }, c.label, h('span', { class: 'sort-indicator', 'aria-hidden': 'true' }, active ? (sort.direction === 'asc' ? '▲' : '▼') : '↕'))
      return h('th', { scope: 'col', 'aria-sort': ariaSort, class: c.className ?? null }, button)
    }))
    const body = visible.map(row => h('tr', { class: options.rowClass?.(row) ?? null }, options.columns.map(c =>
      h('td', { 'data-label': c.hiddenLabel === true ? null : c.label, class: c.className ?? null }, c.render(row)))))
    const table = h('table', { class: 'data-table' },
      h('caption', { class: 'visually-hidden' }, options.caption),
      h('thead', {}, head),
      h('tbody', {}, body))

    // Phones: the header row is hidden (rows become cards), so sorting moves to a select.
    const sortable = options.columns.filter(c => c.sortValue !== undefined)
    const sortSelect = h('select', { id: `${sortId}-select`, 'data-role': 'mobile-sort' },
      sortable.flatMap(c => (['asc', 'desc'] as const).map(d => h('option', {
        value: `${c.key}:${d}`,
        selected: sort.key === c.key && sort.direction === d
      }, `${c.label} (${d === 'asc' ? 'ascending' : 'descending'})`))))
    sortSelect.addEventListener('change', () => {
      const [key = sort.key, direction] = sortSelect.value.split(':')
      sort = { key, direction: direction === 'desc' ? 'desc' : 'asc' }
      page = 0
      render()
      element.querySelector<HTMLSelectElement>('select[data-role="mobile-sort"]')?.focus()
    })
    const mobileSort = h('div', { class: 'mobile-sort' }, h('label', { for: sortSelect.id }, 'Sort by'), sortSelect)

    const first = page * pageSize + 1
    const last = page * pageSize + visible.length
    const pager = pages === 1
      ? h('p', { class: 'pager-status' }, `${sorted.length} ${sorted.length === 1 ? 'item' : 'items'}`)
      : h('nav', { class: 'pager', 'aria-label': 'Pagination' },
        h('button', { type: 'button', class: 'secondary', 'data-page': 'previous', disabled: page === 0, onclick: () => turn(-1) }, 'Previous'),
        h('span', { class: 'pager-status', 'aria-live': 'polite' }, `${first}–${last} of ${sorted.length} · page ${page + 1} of ${pages}`),
        h('button', { type: 'button', class: 'secondary', 'data-page': 'next', disabled: page >= pages - 1, onclick: () => turn(1) }, 'Next'))
    const scroll = h('div', { class: 'table-scroll' }, table)
    if (scrollBox !== null) overflowWatch?.unobserve(scrollBox)
    scrollBox = scroll
    overflowWatch?.observe(scroll)
    replaceChildren(element, mobileSort, scroll, pager)
  }

  render()
  return {
    element,
    setRows: (next: T[], keepFocus?: KeepFocus<T>) => {
      const at = keepFocus === undefined ? -1 : shown.indexOf(keepFocus.near)
      rows = next
      render()
      if (keepFocus === undefined || at < 0) return
      const trs = element.querySelectorAll('tbody tr')
      const row = trs[Math.min(at, trs.length - 1)]
      const target = row === undefined ? keepFocus.whenEmpty() : row.querySelector<HTMLElement>(keepFocus.control)
      target?.focus()
    }
  }
}
