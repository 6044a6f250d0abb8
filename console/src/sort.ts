// Sorting table rows by a column: numbers (dates as epoch ms) numerically, text with the
// locale's collation (case-insensitive, "key 2" before "key 10"); ties keep their order.
export type SortDirection = 'asc' | 'desc'
export type SortValue = string | number

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' })

export function compareSortValues (a: SortValue, b: SortValue): number {
  if (typeof a === 'number' && typeof b === 'number') {
    if (a === b) return 0
    return a < b ? -1 : 1
  }
  return collator.compare(String(a), String(b))
}

export function sortRows<T> (rows: readonly T[], value: (row: T) => SortValue, direction: SortDirection): T[] {
  const sign = direction === 'asc' ? 1 : -1
  return rows
    .map((row, index) => ({ row, index, v: value(row) }))
    .sort((x, y) => sign * compareSortValues(x.v, y.v) || x.index - y.index)
    .map(x => x.row)
}
