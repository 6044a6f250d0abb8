// Issue 22, item 10: an email with a control or invisible character (`a@x.com\0`, a zero-width
// space) was accepted and became a second user that looks exactly like the first. One rule
// (core/email.ts) now guards every way an email enters: POST /api/users (400 naming `email`) and
// the OIDC email claim (401, nobody provisioned); the CLI is test/cli/operator-users-email.test.ts.
// The same address with surrounding whitespace or another case is the same user.
import t from 'tap'
import { ADMIN_TOKEN, startAdmin, testConfig } from '../helpers/admin.ts'
import { startOidcIssuer } from '../helpers/oidc.ts'

/** Each looks like a@example.com (or nearly) on a screen or in a log. */
const LOOKALIKES = [
  'a@example.com\u0000',
  'a@example.com\u0007',
  'a\u0000@example.com',
  'a@example.com\u200b',
  'a\u200d@example.com',
  'a@example.com\u202e',
  'a@example.com\u00ad',
  'a@exa\u0085mple.com',
  'a@example.com\ufeffx',
  'a\u00a0b@example.com',
  'a\tb@example.com',
  'a@example.com\u2028x'
]

t.test('POST /api/users: a control, format or space character inside the email is a 400 naming email', async t => {
  const h = await startAdmin(t)
  const first = await h.request({ method: 'POST', url: '/api/users', token: ADMIN_TOKEN, body: { email: 'a@example.com' } })
  t.equal(first.statusCode, 201)
  for (const email of LOOKALIKES) {
    const res = await h.request({ method: 'POST', url: '/api/users', token: ADMIN_TOKEN, body: { email } })
    t.equal(res.statusCode, 400, `${encodeURIComponent(email)}: 400`)
    t.equal(res.json().code, 'MCPGATE_VALIDATION_FAILED')
    t.match(res.json().message, /^email: /, 'names the field')
  }
  // Whitespace around the address is trimmed and case is folded: the same user, not a new one.
  const again = await h.request({ method: 'POST', url: '/api/users', token: ADMIN_TOKEN, body: { email: ' \tA@Example.COM\n' } })
  t.equal(again.statusCode, 409)
  t.equal(again.json().code, 'MCPGATE_EMAIL_TAKEN')
  t.same((await h.store.listUsers({ limit: 50 })).items.map(u => u.email), ['a@example.com'], 'one user, the first')
})

t.test('OIDC: an email claim with such a character is refused and provisions nobody', async t => {
  const idp = await startOidcIssuer()
  t.teardown(() => idp.close())
  const h = await startAdmin(t, { config: testConfig({}, idp) })
  for (const email of LOOKALIKES) {
    const res = await h.request({ method: 'GET', url: '/api/me', token: await idp.sign({ sub: `s-${LOOKALIKES.indexOf(email)}`, email, email_verified: true }) })
    t.equal(res.statusCode, 401, `${encodeURIComponent(email)}: 401`)
    t.equal(res.json().code, 'MCPGATE_TOKEN_INVALID')
  }
  t.equal((await h.store.listUsers({ limit: 50 })).items.length, 0, 'nobody was provisioned')
  t.equal(h.auditEvents('admin.auth_failed').filter(e => /email/.test(e.target.reason)).length, LOOKALIKES.length, 'each refusal audited with its reason')
})
