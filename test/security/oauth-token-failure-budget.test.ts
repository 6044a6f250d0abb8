// The token endpoint's client_credentials checks an API key (argon2 of its secret) in the admin
// process: wrong keys as client_secret count against the caller's address in the admin API's
// failed-authentication budget (admin.authFailuresPerIp per admin.authFailureWindowMs), and a
// spent budget answers 429 with Retry-After before any verification, even for the right key,
// until the window ends. Other addresses and the other OAuth endpoints are not affected.
import t from 'tap'
import { ManualClock } from '../../core/clock.ts'
import { generateKey, parseKey } from '../../core/key-format.ts'
import { startOAuthStack } from '../helpers/oauth-stack.ts'
import { tokenRequest } from '../helpers/oauth-tokens.ts'

const LIMIT = 3
const WINDOW_MS = 60_000

t.test('wrong keys at the token endpoint spend the address\'s budget; then 429 until the window ends', async t => {
  const clock = new ManualClock(Date.now())
  const stack = await startOAuthStack(t, { adminClock: clock, admin: { authFailuresPerIp: LIMIT, authFailureWindowMs: WINDOW_MS } })
  const alice = await stack.idp.sign({ email: 'alice@example.com', name: 'Alice' })
  const created = await fetch(`${stack.adminUrl}/api/api-keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'ci robot', mcpServerIds: ['alpha'] })
  })
  t.equal(created.status, 201)
  const { key, id } = await created.json() as { key: string, id: string }
  const form = (secret: string): Record<string, string> => ({ grant_type: 'client_credentials', client_id: id, client_secret: secret, resource: stack.mcpUrl('alpha'), scope: 'mcp' })

  t.equal((await tokenRequest(stack, form(key))).status, 200, 'the right key: a token')
  // No secret at all is not a failed authentication: the next LIMIT wrong keys all get 401.
  t.equal((await tokenRequest(stack, { grant_type: 'client_credentials', client_id: id, resource: stack.mcpUrl('alpha'), scope: 'mcp' })).status, 401, 'no secret: 401')
  // A well-formed key (checksum right) of the same owner and id with another secret: argon2 runs
  // and says no; then keys whose checksum is wrong, refused before any hashing.
  const parsed = parseKey(key)
  if (!parsed.ok) throw new Error('the created key does not parse')
  const forged = generateKey(parsed.key.userId, id).key
  for (let i = 1; i <= LIMIT; i++) {
    const wrong = await tokenRequest(stack, form(i === 1 ? forged : `${key.slice(0, -1)}x`))
    t.equal(wrong.status, 401, `wrong secret ${i}: 401`)
    t.equal(wrong.body.error, 'invalid_client')
  }
  const refused = await tokenRequest(stack, form(key))
  t.equal(refused.status, 429, 'the budget spent: 429, even for the right key')
  t.equal(refused.body.code, 'MCPGATE_RATE_LIMITED')
  t.ok(Number(refused.retryAfter) > 0 && Number(refused.retryAfter) <= WINDOW_MS / 1000, `Retry-After within the window (${refused.retryAfter} s)`)

  const discovery = await fetch(`${stack.adminUrl}/.well-known/oauth-authorization-server`)
  t.equal(discovery.status, 200, 'the other OAuth endpoints still answer')
  await discovery.arrayBuffer()

  clock.advance(WINDOW_MS)
  t.equal((await tokenRequest(stack, form(key))).status, 200, 'the window over: the right key gets a token again')
})
