// core/email.ts, the one email rule every path uses (admin API, CLI, OIDC claim): what it accepts
// and in which stored form, and what it refuses — above all characters that make two addresses
// print alike.
import t from 'tap'
import { EMAIL_MAX, parseEmail } from '../../core/email.ts'

t.test('accepted, in one stored form: trimmed, NFC, lower case', async t => {
  const cases: Array<[string, string]> = [
    ['ada@example.com', 'ada@example.com'],
    ['  Ada.Lovelace+mcp@Example.CO.uk \n', 'ada.lovelace+mcp@example.co.uk'],
    ["o'brien_{x}~y@sub-1.example.org", "o'brien_{x}~y@sub-1.example.org"],
    ['Jose\u0301@example.com', 'jos\u00e9@example.com'],
    ['\u00fcser@b\u00fccher.example', '\u00fcser@b\u00fccher.example'],
    [`${'l'.repeat(64)}@${'d'.repeat(63)}.${'e'.repeat(63)}.${'f'.repeat(61)}`, `${'l'.repeat(64)}@${'d'.repeat(63)}.${'e'.repeat(63)}.${'f'.repeat(61)}`]
  ]
  for (const [input, stored] of cases) {
    t.same(parseEmail(input), { ok: true, email: stored }, encodeURIComponent(input).slice(0, 60))
  }
  t.equal(cases[5]?.[1].length, EMAIL_MAX, 'the longest accepted address is 254 characters')
})

t.test('refused, with a problem to show after "email: "', async t => {
  const cases: Array<[unknown, RegExp]> = [
    [42, /string/],
    ['   ', /empty/],
    ['a@example.com\u0000', /control, invisible or space/],
    ['a@example.com\u200b', /control, invisible or space/],
    ['a@example.com\u202e', /control, invisible or space/],
    ['a@example.com\u00ad', /control, invisible or space/],
    ['a@example.com\u0085', /control, invisible or space/],
    ['a@example.com\ue000', /control, invisible or space/],
    ['a b@example.com', /control, invisible or space/],
    ['a\u3000b@example.com', /control, invisible or space/],
    ['a@example.com\u2029x', /control, invisible or space/],
    ['a@b@example.com', /exactly one "@"/],
    ['example.com', /exactly one "@"/],
    ['@example.com', /before the "@"/],
    [`${'l'.repeat(65)}@example.com`, /1-64 characters before/],
    ['.a@example.com', /part before/],
    ['a.@example.com', /part before/],
    ['a..b@example.com', /part before/],
    ['a<b>@example.com', /part before/],
    ['a"b@example.com', /part before/],
    ['a@localhost', /domain/],
    ['a@example..com', /domain/],
    ['a@example.com.', /domain/],
    ['a@exa_mple.com', /domain/],
    [`a@${'d'.repeat(64)}.com`, /domain/],
    [`a@${'d'.repeat(250)}.com`, /at most 254/]
  ]
  for (const [input, problem] of cases) {
    const r = parseEmail(input)
    t.equal(r.ok, false, `${encodeURIComponent(String(input)).slice(0, 60)}: refused`)
    if (!r.ok) t.match(r.problem, problem)
  }
})
