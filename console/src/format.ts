// Dates and small labels, formatted in the reader's locale; the exact instant stays in title/datetime.
import type { User } from './api.ts'
import { h } from './dom.ts'

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' })

export function parseTime (iso: string | null | undefined): number | null {
  if (iso === null || iso === undefined || iso === '') return null
  const t = Date.parse(iso)
  return Number.isNaN(t) ? null : t
}

export function timeElement (iso: string | null, whenNull: string): HTMLElement {
  const t = parseTime(iso)
  if (t === null) return h('span', { class: 'muted' }, whenNull)
  return h('time', { datetime: new Date(t).toISOString(), title: new Date(t).toISOString() }, dateTime.format(t))
}

export function plural (n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`
}

/** yyyy-mm-dd of a local day, the value format of <input type="date">. */
export function localDateValue (d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`
}

/** A key "expiring on a day" stays valid through the end of that local day. */
export function endOfLocalDay (value: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value)
  if (m === null) return null
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), 23, 59, 59, 999)
  return Number.isNaN(d.getTime()) ? null : d
}

const dateTimeSeconds = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' })
const integer = new Intl.NumberFormat()

/** An audit event's time: to the second (several events share a minute). */
export function preciseTimeElement (iso: string): HTMLElement {
  const t = parseTime(iso)
  if (t === null) return h('span', { class: 'muted' }, iso)
  return h('time', { datetime: new Date(t).toISOString(), title: new Date(t).toISOString() }, dateTimeSeconds.format(t))
}

export function formatCount (n: number): string {
  return integer.format(n)
}

export function formatDuration (ms: number): string {
  if (ms < 10) return `${ms.toFixed(1)} ms`
  if (ms < 10_000) return `${Math.round(ms)} ms`
  return `${(ms / 1000).toFixed(1)} s`
}

/** "Name (email)", the email alone when it is also the name, the name alone without an email. */
export function accountLabel (u: Pick<User, 'name' | 'email'>): string {
  if (u.email === '') return u.name
  return u.name === '' || u.name === u.email ? u.email : `${u.name} (${u.email})`
}

/**
 * A user as one line of text where nothing else says what it is (an owner, an audit event's
 * user): accountLabel, and for a service account without an email (`email` is "") "Name (service
 * account)" — never "Name ()".
 */
export function userLabel (u: Pick<User, 'name' | 'email'> & { kind?: User['kind'] }): string {
  return u.email === '' && u.kind === 'service' ? `${u.name} (service account)` : accountLabel(u)
}
