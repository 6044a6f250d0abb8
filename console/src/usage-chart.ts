// A key's calls per day over the last 30 days as an inline SVG bar chart (no chart library: a few
// rects and lines), stacked allowed / denied / errors. Denied bars are hatched as well as coloured,
// so the kinds differ without colour too; the numbers are in a table beside it for screen readers
// and anyone who wants them exact. Colours come from the stylesheet (the CSP allows no inline style).
import type { KeyUsage } from './api.ts'
import { h, uid } from './dom.ts'
import { formatCount, plural } from './format.ts'

const SVG = 'http://www.w3.org/2000/svg'
type UsageDay = KeyUsage['daily'][number]

function svg<K extends keyof SVGElementTagNameMap> (tag: K, attrs: Record<string, string | number> = {}, ...children: Array<SVGElement | string>): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag)
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value))
  for (const child of children) el.append(child)
  return el
}

/** The buckets are UTC days (the API's), so their labels are too. */
const dayLabel = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' })
const fullDayLabel = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeZone: 'UTC' })

/** A step of 1, 2 or 5 × 10ⁿ giving at most 4 gridlines above zero. */
export function niceStep (max: number): number {
  if (max <= 4) return 1
  const rough = max / 4
  const magnitude = 10 ** Math.floor(Math.log10(rough))
  for (const m of [1, 2, 5, 10]) if (m * magnitude >= rough) return m * magnitude
  return 10 * magnitude
}

export function allowedOf (d: UsageDay): number {
  return Math.max(0, d.calls - d.denied - d.errors)
}

function describeDay (d: UsageDay): string {
  const parts = [d.denied > 0 ? `${formatCount(d.denied)} denied` : '', d.errors > 0 ? plural(d.errors, 'error', 'errors') : ''].filter(p => p !== '')
  return `${fullDayLabel.format(Date.parse(d.start))}: ${plural(d.calls, 'call', 'calls')}${parts.length === 0 ? '' : ` (${parts.join(', ')})`}`
}

/** A small legend swatch drawn like the bars it stands for. */
function swatch (kind: 'allowed' | 'denied' | 'errors', patternId: string): SVGSVGElement {
  return svg('svg', { class: 'swatch', width: 12, height: 12, viewBox: '0 0 12 12', 'aria-hidden': 'true' },
    kind === 'denied' ? swatchPattern(patternId) : '',
    svg('rect', { x: 0, y: 0, width: 12, height: 12, class: `bar-${kind}`, ...(kind === 'denied' ? { fill: `url(#${patternId})` } : {}) }))
}

function swatchPattern (id: string): SVGDefsElement {
  return svg('defs', {}, svg('pattern', { id, width: 4, height: 4, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' },
    svg('rect', { width: 4, height: 4, class: 'hatch-bg' }),
    svg('rect', { width: 2, height: 4, class: 'hatch-line' })))
}

export function usageChart (usage: KeyUsage): HTMLElement {
  const days = usage.daily
  const totals = days.reduce((t, d) => ({ calls: t.calls + d.calls, denied: t.denied + d.denied, errors: t.errors + d.errors }), { calls: 0, denied: 0, errors: 0 })
  const peak = days.reduce<UsageDay | null>((p, d) => p === null || d.calls > p.calls ? d : p, null)
  const summaryText = totals.calls === 0
    ? 'No calls in the last 30 days.'
    : `${plural(totals.calls, 'call', 'calls')} in the last 30 days: ${formatCount(totals.calls - totals.denied - totals.errors)} allowed, ${formatCount(totals.denied)} denied, ${plural(totals.errors, 'error', 'errors')}.` +
      (peak === null ? '' : ` Busiest day ${fullDayLabel.format(Date.parse(peak.start))} (${plural(peak.calls, 'call', 'calls')}).`)

  // Geometry in viewBox units; the stylesheet scales the SVG to the card's width.
  const width = 720
  const height = 200
  const left = 44
  const right = 8
  const top = 10
  const bottom = 26
  const plotW = width - left - right
  const plotH = height - top - bottom
  const maxCalls = Math.max(0, ...days.map(d => d.calls))
  const step = niceStep(maxCalls)
  const yMax = Math.max(step, Math.ceil(maxCalls / step) * step)
  const y = (v: number) => top + plotH - (v / yMax) * plotH
  const slot = plotW / Math.max(1, days.length)
  const barW = Math.max(2, slot * 0.7)

  const titleId = uid('chart-title')
  const patternId = uid('hatch')
  const chart = svg('svg', { class: 'usage-chart', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': titleId, preserveAspectRatio: 'xMidYMid meet' },
    svg('title', { id: titleId }, 'Bar chart of the calls per day over the last 30 days; the numbers are in the table below it'),
    swatchPattern(patternId))

  // Gridlines and their labels.
  for (let v = 0; v <= yMax; v += step) {
    chart.append(
      svg('line', { class: v === 0 ? 'axis' : 'grid', x1: left, x2: width - right, y1: y(v), y2: y(v) }),
      svg('text', { class: 'tick', x: left - 6, y: y(v) + 4, 'text-anchor': 'end' }, formatCount(v)))
  }

  days.forEach((d, i) => {
    const x = left + i * slot + (slot - barW) / 2
    const group = svg('g', { class: 'day' }, svg('title', {}, describeDay(d)),
      // The whole column answers the pointer, so a day with few calls shows its numbers too.
      svg('rect', { class: 'hit', x: left + i * slot, y: top, width: slot, height: plotH }))
    let base = 0
    for (const [kind, value] of [['allowed', allowedOf(d)], ['denied', d.denied], ['errors', d.errors]] as const) {
      if (value <= 0) continue
      group.append(svg('rect', {
        class: `bar-${kind}`,
        x,
        y: y(base + value),
        width: barW,
        height: y(base) - y(base + value),
        ...(kind === 'denied' ? { fill: `url(#${patternId})` } : {})
      }))
      base += value
    }
    // A date under every 7th day, counted back from today.
    if ((days.length - 1 - i) % 7 === 0) {
      group.append(svg('text', { class: 'tick', x: left + i * slot + slot / 2, y: height - 8, 'text-anchor': 'middle' }, dayLabel.format(Date.parse(d.start))))
    }
    chart.append(group)
  })
  if (totals.calls === 0) {
    chart.append(svg('text', { class: 'chart-empty', x: left + plotW / 2, y: top + plotH / 2, 'text-anchor': 'middle' }, 'No calls in the last 30 days'))
  }

  const legendPattern = uid('hatch')
  const legend = h('ul', { class: 'chart-legend', 'aria-hidden': 'true' },
    h('li', {}, swatch('allowed', legendPattern), 'Allowed'),
    h('li', {}, swatch('denied', legendPattern), 'Denied'),
    h('li', {}, swatch('errors', legendPattern), 'Errors'))

  const numbers = h('table', { class: 'data-table compact' },
    h('caption', { class: 'visually-hidden' }, 'Calls per day (UTC), newest first'),
    h('thead', {}, h('tr', {}, ['Day (UTC)', 'Calls', 'Allowed', 'Denied', 'Errors'].map((label, i) => h('th', { scope: 'col', class: i === 0 ? null : 'col-number' }, label)))),
    h('tbody', {}, [...days].reverse().map(d => h('tr', {},
      h('th', { scope: 'row', 'data-label': 'Day (UTC)' }, fullDayLabel.format(Date.parse(d.start))),
      [d.calls, allowedOf(d), d.denied, d.errors].map((n, i) => h('td', { 'data-label': ['Calls', 'Allowed', 'Denied', 'Errors'][i], class: 'col-number' }, formatCount(n)))))))

  return h('figure', { class: 'usage' },
    h('figcaption', { class: 'usage-summary' }, summaryText),
    chart,
    legend,
    h('details', { class: 'usage-numbers' }, h('summary', {}, 'Show the numbers per day'), h('div', { class: 'table-scroll' }, numbers)))
}
