// What is left of rate limits and quotas (the admin API's LimitStatus: a key's usage, GET /api/me),
// said in words — "Requests: 27 of 30 left this minute", "Tool calls: 17 of 20 left today, resets
// 00:00 UTC" — under whose they are: the key's own, or its owner's totals across all of their keys.
// Requests count per minute, tool calls per UTC day (core/limits.ts); the reset of a day is
// midnight UTC, which is what the reader is told.
import type { LimitStatus } from './api.ts'
import { h, uid } from './dom.ts'
import { formatCount } from './format.ts'

/** Whose total a per-user limit is, as the reader is addressed. */
export type LimitReader = 'owner' | 'admin'

const KIND: Record<LimitStatus['kind'], string> = { requests: 'Requests', toolCalls: 'Tool calls' }
const WINDOW: Record<LimitStatus['kind'], string> = { requests: 'this minute', toolCalls: 'today' }

/** "00:00 UTC": when a day's quota starts again, in the time zone it is counted in. */
function resetTime (resetAt: string): HTMLElement {
  const t = Date.parse(resetAt)
  if (Number.isNaN(t)) return h('span', {}, resetAt)
  const utc = new Date(t).toISOString().slice(11, 16)
  return h('time', { datetime: new Date(t).toISOString(), title: new Date(t).toLocaleString() }, `${utc} UTC`)
}

function leftText (l: LimitStatus): string {
  return `${formatCount(Math.max(0, l.remaining))} of ${formatCount(l.limit)} left ${WINDOW[l.kind]}`
}

/** One limit as a sentence, with a "Used up" badge (words, not a colour) when nothing is left. */
export function limitLine (l: LimitStatus): HTMLElement {
  return h('li', { class: 'limit', 'data-limit': `${l.scope}:${l.kind}` },
    h('span', { class: 'limit-kind' }, `${KIND[l.kind]}:`), ' ',
    leftText(l),
    l.kind === 'toolCalls' ? [', resets ', resetTime(l.resetAt)] : null,
    l.remaining <= 0 ? [' ', h('span', { class: 'badge danger' }, 'Used up')] : null)
}

/**
 * A key's limits (from its usage) in two lists, each under its heading: the key's own (or the
 * default for keys), then its owner's totals across all of their keys; null when it has none.
 */
export function limitList (limits: readonly LimitStatus[], reader: LimitReader): HTMLElement | null {
  if (limits.length === 0) return null
  const group = (scope: LimitStatus['scope'], heading: string) => {
    const mine = limits.filter(l => l.scope === scope)
    if (mine.length === 0) return null
    const id = uid('limits')
    return h('div', { class: 'limit-group' },
      h('h3', { id }, heading),
      h('ul', { class: 'limits', 'aria-labelledby': id }, mine.map(limitLine)))
  }
  return h('div', { class: 'limit-groups' },
    group('key', 'This key'),
    group('user', reader === 'owner' ? 'Your totals across all of your keys' : 'The owner\'s totals across all of their keys'))
}

/** The signed-in user's totals across their keys (GET /api/me), for the API Keys page; null when none. */
export function userTotals (limits: readonly LimitStatus[]): HTMLElement | null {
  const mine = limits.filter(l => l.scope === 'user')
  if (mine.length === 0) return null
  return h('ul', { class: 'limits user-totals', 'aria-label': 'Your limits across all of your keys' }, mine.map(l => h('li', { class: 'limit', 'data-limit': `user:${l.kind}` },
    h('span', { class: 'limit-kind' }, `${KIND[l.kind]} ${WINDOW[l.kind]}:`), ' ',
    `${formatCount(Math.max(0, l.remaining))} of ${formatCount(l.limit)} left across your keys`,
    l.kind === 'toolCalls' ? [', resets ', resetTime(l.resetAt)] : null,
    l.remaining <= 0 ? [' ', h('span', { class: 'badge danger' }, 'Used up')] : null)))
}
