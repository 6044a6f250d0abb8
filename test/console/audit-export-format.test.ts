// The console's audit export without a browser (console/src/audit-export.ts loads no DOM): CSV
// quoting per RFC 4180 and the CSV-injection guard, JSONL as the API's objects, and the bounded
// collection of pages (short and empty pages with a cursor, the cap and its "truncated").
import { test } from 'tap'
import type { AuditEventView, Page } from '../../admin-api/schemas.ts'
import { collectEvents, CSV_COLUMNS, csvField, eventsToCsv, eventsToJsonl } from '../../console/src/audit-export.ts'

function event (i: number, extra: Partial<AuditEventView> = {}): AuditEventView {
  return {
    id: String(1000 - i),
    time: new Date(Date.UTC(2026, 11, 7, 2, 0, i)).toISOString(),
    requestId: `req-${i}`,
    keyId: 'AAAAAAAAAAAAAAAA',
    userId: 'U1',
    serverId: 'docs',
    method: 'tools/call',
    name: 'search',
    outcome: 'allowed',
    status: 200,
    durationMs: 1.5,
    bytesIn: 10,
    bytesOut: 20,
    ip: '127.0.0.1',
    ...extra
  }
}

/** An RFC 4180 reader, to check that what is written reads back. */
function parseCsv (text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let field = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++ } else if (c === '"') quoted = false
      else field += c
    } else if (c === '"') quoted = true
    else if (c === ',') { row.push(field); field = '' } else if (c === '\r' && text[i + 1] === '\n') { row.push(field); rows.push(row); row = []; field = ''; i++ } else field += c
  }
  return rows
}

test('CSV fields are quoted when they must be, and formulas are defused', async t => {
  t.equal(csvField('plain'), 'plain')
  t.equal(csvField(undefined), '', 'an absent field is empty')
  t.equal(csvField(null), '', 'a null field is empty')
  t.equal(csvField(42), '42')
  t.equal(csvField('a,b'), '"a,b"', 'a comma is quoted')
  t.equal(csvField('say "hi"'), '"say ""hi"""', 'quotes are doubled inside quotes')
  t.equal(csvField('two\nlines'), '"two\nlines"', 'a line break is quoted')
  t.equal(csvField('=HYPERLINK("http://x")'), '"\'=HYPERLINK(""http://x"")"', 'a formula gets a leading apostrophe (and quoting)')
  for (const start of ['+', '-', '@', '\t']) t.equal(csvField(`${start}1`).replace(/^"|"$/g, ''), `'${start}1`, `a text starting with ${JSON.stringify(start)} is defused`)
  t.equal(csvField({ q: 'x,y' }), '"{""q"":""x,y""}"', 'objects (arguments) are JSON, quoted')
})

test('a CSV of events reads back to the same values; JSONL is the events themselves', async t => {
  const events: AuditEventView[] = [
    event(1),
    event(2, { name: 'file:///a,b "c"\nd', outcome: 'denied', code: 'MCPGATE_TOOL_NOT_ALLOWED', userAgent: 'agent/1.0 (x, y)' }),
    (({ name: _absent, ...e }) => e)(event(3, { keyId: null, userId: null, serverId: null, method: 'unknown', outcome: 'denied', status: 401 })),
    event(4, { secretGeneration: 2, arguments: { path: '/etc' }, session: 'abcdef0123456789' })
  ]
  const csv = eventsToCsv(events)
  t.ok(csv.endsWith('\r\n'), 'lines end with CRLF')
  const rows = parseCsv(csv)
  t.same(rows[0], [...CSV_COLUMNS], 'a header row names every column')
  t.equal(rows.length, events.length + 1, 'one row per event')
  for (const [i, e] of events.entries()) {
    const r = rows[i + 1] as string[]
    t.equal(r.length, CSV_COLUMNS.length, `row ${i + 1} has every column`)
    const byColumn = Object.fromEntries(CSV_COLUMNS.map((c, j) => [c, r[j]]))
    t.equal(byColumn.requestId, e.requestId)
    t.equal(byColumn.name, e.name ?? '', 'the name reads back exactly, commas, quotes and line breaks included')
    t.equal(byColumn.keyId, e.keyId ?? '')
    t.equal(byColumn.status, String(e.status))
    t.equal(byColumn.userAgent, e.userAgent ?? '')
    t.equal(byColumn.arguments, e.arguments === undefined ? '' : JSON.stringify(e.arguments))
  }

  const lines = eventsToJsonl(events).split('\n')
  t.equal(lines.pop(), '', 'every JSONL line ends with a newline')
  t.same(lines.map(l => JSON.parse(l) as unknown), events, 'each line is one event as the API gave it')
})

test('collecting pages follows cursors past short and empty pages, and stops at the cap', async t => {
  const all = Array.from({ length: 25 }, (_, i) => event(i))
  // Pages of 10, with an empty page in the middle that still has a cursor.
  const pages: Array<Page<AuditEventView>> = [
    { items: all.slice(0, 10), nextCursor: 'a' },
    { items: [], nextCursor: 'b' },
    { items: all.slice(10, 20), nextCursor: 'c' },
    { items: all.slice(20), nextCursor: null }
  ]
  const seen: Array<string | null> = []
  const fetchPage = async (cursor: string | null) => {
    seen.push(cursor)
    return pages[cursor === null ? 0 : 'abc'.indexOf(cursor) + 1] as Page<AuditEventView>
  }
  const everything = await collectEvents(fetchPage, 100)
  t.same(seen, [null, 'a', 'b', 'c'], 'every cursor is followed, the empty page\'s too')
  t.same(everything.events, all)
  t.equal(everything.truncated, false, 'all of it: not truncated')

  const progress: number[] = []
  const capped = await collectEvents(fetchPage, 15, n => progress.push(n))
  t.equal(capped.events.length, 15, 'no more than the cap')
  t.same(capped.events, all.slice(0, 15), 'the newest ones')
  t.equal(capped.truncated, true, 'and it says more matched')
  t.same(progress, [10, 10, 15], 'progress is reported per page, never past the cap')

  const exact = await collectEvents(fetchPage, 25)
  t.equal(exact.truncated, false, 'exactly the cap with nothing after it is not truncated')
})
