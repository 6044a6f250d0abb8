// client_credentials verifies the API key sent as client_secret (argon2) at every token request.
// A key proved once is known by its digest (no argon2 again while its record's secret is the
// same), and verifications of keys not proven are bounded for all clients together
// (oauth.keyVerificationsPerSecond): past it, 503 temporarily_unavailable with Retry-After.
import t from 'tap'
import { ManualClock } from '../../core/clock.ts'
import { checksumOf, CHECKSUM_LENGTH } from '../../core/key-format.ts'
import { startOAuthStack, type OAuthStack } from '../helpers/oauth-stack.ts'
import { tokenRequest } from '../helpers/oauth-tokens.ts'

async function token (stack: OAuthStack, id: string, secret: string): ReturnType<typeof tokenRequest> {
  return await tokenRequest(stack, { grant_type: 'client_credentials', client_id: id, client_secret: secret, resource: stack.mcpUrl('alpha'), scope: 'mcp' })
}

/** The key with another secret, well-formed (checksum and all): only argon2 can tell it is wrong. */
function otherSecret (key: string): string {
  const body = key.slice(0, key.length - CHECKSUM_LENGTH - 1)
  const changed = `${body}${key.at(-CHECKSUM_LENGTH - 1) === 'x' ? 'y' : 'x'}`
  return changed + checksumOf(changed)
}

t.test('argon2 at the token endpoint: once per key, and bounded for keys not proven', async t => {
  const clock = new ManualClock(Date.now())
  const stack = await startOAuthStack(t, { adminClock: clock, oauth: { keyVerificationsPerSecond: 1 } })
  const alice = await stack.idp.sign({ email: 'alice@example.com', name: 'Alice' })
  const create = async (name: string) => {
    const res = await fetch(`${stack.adminUrl}/api/api-keys`, { method: 'POST', headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' }, body: JSON.stringify({ name, mcpServerIds: ['alpha'] }) })
    return await res.json() as { id: string, key: string }
  }
  const a = await create('robot a')
  const b = await create('robot b')

  t.equal((await token(stack, a.id, a.key)).status, 200, 'key a: verified (the second\'s one verification)')
  for (let i = 0; i < 3; i++) t.equal((await token(stack, a.id, a.key)).status, 200, `key a again (${i + 1}): known, no verification needed`)

  const busy = await token(stack, b.id, b.key)
  t.equal(busy.status, 503, 'key b, not proven, in the same second: 503')
  t.equal(busy.body.error, 'temporarily_unavailable')
  t.match(busy.body.error_description, /retry shortly/)
  t.equal(busy.retryAfter, '1', 'with Retry-After')
  const wrong = await token(stack, a.id, otherSecret(a.key))
  t.equal(wrong.status, 503, 'a wrong secret for a proven key is no shortcut: it needs a verification too')

  clock.advance(1000)
  t.equal((await token(stack, b.id, b.key)).status, 200, 'the next second: key b verified')
  clock.advance(1000)
  const bad = await token(stack, a.id, otherSecret(a.key))
  t.equal(bad.status, 401, 'with a verification to spend, the wrong secret is refused')
  t.equal(bad.body.error, 'invalid_client')

  const del = await fetch(`${stack.adminUrl}/api/api-keys/${a.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${alice}` } })
  t.equal(del.status, 204)
  t.equal((await token(stack, a.id, a.key)).body.error, 'invalid_client', 'a proven key deleted: refused (its record is read at every request)')
})

t.test('a rotated key: both secrets during the overlap, the new one after', async t => {
  const clock = new ManualClock(Date.now())
  const stack = await startOAuthStack(t, { adminClock: clock })
  const alice = await stack.idp.sign({ email: 'alice@example.com', name: 'Alice' })
  const created = await fetch(`${stack.adminUrl}/api/api-keys`, { method: 'POST', headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'robot', mcpServerIds: ['alpha'] }) })
  const old = await created.json() as { id: string, key: string }
  t.equal((await token(stack, old.id, old.key)).status, 200, 'the key before rotation')
  const rotated = await fetch(`${stack.adminUrl}/api/api-keys/${old.id}/rotate`, { method: 'POST', headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' }, body: JSON.stringify({ overlapSeconds: 60 }) })
  t.equal(rotated.status, 200)
  const fresh = (await rotated.json() as { key: string }).key
  t.equal((await token(stack, old.id, fresh)).status, 200, 'the new secret')
  t.equal((await token(stack, old.id, old.key)).status, 200, 'the old secret during the overlap')
  clock.advance(61_000)
  const late = await token(stack, old.id, old.key)
  t.equal(late.status, 401, 'the old secret after the overlap: refused')
  t.equal(late.body.error, 'invalid_client')
  t.equal((await token(stack, old.id, fresh)).status, 200, 'the new one still works')
})
