// The audit export, made in the browser from the pages a filter yields: JSONL (each event as the
// API gave it, one per line) and CSV (RFC 4180). Pure: no DOM, so it is tested in Node as well.
import type { AuditEvent, Page } from './api.ts'

/** At most this many events go into one export; the rest is left out, and the console says so. */
export const EXPORT_MAX_EVENTS = 10_000

export interface Collected {
  events: AuditEvent[]
  /** More events matched than were collected (the cap was reached). */
  truncated: boolean
}

/**
 * Reads pages from the first until there is no next one or `max` events are in hand. A page may be
 * short, even empty, and still have a next one (the API scans a bounded number of events per page).
 */
export async function collectEvents (
  fetchPage: (cursor: string | null) => Promise<Page<AuditEvent>>,
  max = EXPORT_MAX_EVENTS,
  onProgress: (count: number) => void = () => {}
): Promise<Collected> {
  const events: AuditEvent[] = []
  let cursor: string | null = null
  do {
    const page: Page<AuditEvent> = await fetchPage(cursor)
    events.push(...page.items)
    cursor = page.nextCursor
    onProgress(Math.min(events.length, max))
  } while (cursor !== null && events.length < max)
  return { events: events.slice(0, max), truncated: events.length > max || cursor !== null }
}

/** The CSV's columns, in order: every field of an event (arguments as JSON). */
export const CSV_COLUMNS = [
  'time', 'id', 'requestId', 'keyId', 'userId', 'secretGeneration', 'serverId', 'method', 'name', 'outcome', 'code',
  'status', 'durationMs', 'bytesIn', 'bytesOut', 'session', 'ip', 'userAgent', 'arguments'
] as const satisfies ReadonlyArray<keyof AuditEvent>

/**
 * One CSV field. Quoted when it holds a comma, a quote or a line break (quotes doubled, RFC 4180).
 * A text that a spreadsheet would run as a formula (=, +, -, @, tab or CR first: a client chooses
 * its user agent, a tool its name) gets a leading apostrophe, as OWASP advises for CSV injection;
 * the JSONL export keeps every value as it is.
 */
export function csvField (value: unknown): string {
  if (value === undefined || value === null) return ''
  let text: string
  if (typeof value === 'string') text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value
  else if (typeof value === 'number' || typeof value === 'boolean') text = String(value)
  else text = JSON.stringify(value)
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}

/** A header line, then one line per event; CRLF line ends (RFC 4180). */
export function eventsToCsv (events: readonly AuditEvent[]): string {
  const lines = [CSV_COLUMNS.join(',')]
  for (const e of events) lines.push(CSV_COLUMNS.map(c => csvField(e[c])).join(','))
  return `${lines.join('\r\n')}\r\n`
}

/** One JSON object per line, as the API answered it. */
export function eventsToJsonl (events: readonly AuditEvent[]): string {
  return events.map(e => `${JSON.stringify(e)}\n`).join('')
}
