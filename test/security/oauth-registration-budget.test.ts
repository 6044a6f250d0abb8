// Open dynamic client registration (RFC 7591) writes a client record for anyone who asks: each
// client address gets oauth.registrationsPerIpPerHour of them, then 429 with Retry-After (before
// oidc-provider sees the request, so nothing is written), and a new hour opens the budget again.
import t from 'tap'
import { ManualClock } from '../../core/clock.ts'
import { startOAuthStack, type OAuthStack } from '../helpers/oauth-stack.ts'

async function register (stack: OAuthStack, name: string): Promise<{ status: number, retryAfter: string | null, body: Record<string, unknown> }> {
  const res = await fetch(`${stack.adminUrl}/oauth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: name, redirect_uris: ['http://127.0.0.1:9/callback'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] })
  })
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() as Record<string, unknown> }
}

t.test('registrations per client address per hour', async t => {
  const clock = new ManualClock(Date.now())
  const stack = await startOAuthStack(t, { adminClock: clock, oauth: { registrationsPerIpPerHour: 3 } })
  const made: string[] = []
  for (const name of ['one', 'two', 'three']) {
    const r = await register(stack, name)
    t.equal(r.status, 201, `registration ${name} within the budget`)
    made.push(String(r.body.client_id))
  }
  clock.advance(60_000)
  const over = await register(stack, 'four')
  t.equal(over.status, 429, 'the fourth in the hour → 429')
  t.equal(over.retryAfter, String(3600 - 60), 'Retry-After: until the hour that began with the first one ends')
  t.equal(over.body.code, 'MCPGATE_RATE_LIMITED')
  t.match(over.body.message, /oauth\.registrationsPerIpPerHour/, 'the message names the setting')
  t.notOk(over.body.client_id, 'no client made')
  for (const id of made) t.not(await stack.store.getRecord(`Client:${id}`), null, `the clients made before stay (${id})`)

  const token = await fetch(`${stack.adminUrl}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' })
  t.not(token.status, 429, 'other OAuth endpoints are not held by the registration budget')
  await token.arrayBuffer()

  clock.advance(3_600_000)
  t.equal((await register(stack, 'five')).status, 201, 'a new hour: registrations again')
})
