// Every way to be unauthenticated answers 401 with `WWW-Authenticate: Bearer realm="mcpgate"`
// (+ error="invalid_token" when a key was sent), never resource_metadata, a stable body code, and
// nothing reaches the upstream.
import t from 'tap'
import { keyHint } from '../../gateway/reply-error.ts'
import { checksumOf, generateKey, newKeyId } from '../../core/key-format.ts'
import { createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

t.test('401 cases', async t => {
  const upstream = await startRawUpstream(t, (_req, res) => { res.end('{}') })
  const store = await sqliteStore(t)
  const gw = await startGateway(t, { store, config: testConfig({ servers: [{ id: 'up', url: `${upstream.origin}/mcp` }] }) })
  const good = await createTestKey(store)
  const other = await createTestKey(store)

  /** Same keyId and userId as `good`, a different (well-formed, checksummed) secret. */
  const wrongSecret = (() => {
    const body = good.key.slice(0, good.key.length - good.secret.length) + 'A'.repeat(40)
    return body + checksumOf(body)
  })()
  const unknownKeyId = generateKey(good.user.id, newKeyId()).key
  const checksumTypo = good.key.slice(0, -1) + (good.key.endsWith('A') ? 'B' : 'A')

  const cases: Array<{ name: string, headers: Record<string, string>, code: string, keySent: boolean, url?: string }> = [
    { name: 'no key', headers: {}, code: 'MCPGATE_KEY_MISSING', keySent: false },
    { name: 'Basic credentials are not a key', headers: { authorization: 'Basic dXNlcjpwYXNz' }, code: 'MCPGATE_KEY_MISSING', keySent: false },
    { name: 'key only in the query string', headers: {}, code: 'MCPGATE_KEY_MISSING', keySent: false, url: `${gw.mcpUrl('up')}?api_key=${good.key}` },
    { name: 'garbage bearer', headers: { authorization: 'Bearer not-a-key' }, code: 'MCPGATE_KEY_MALFORMED', keySent: true },
    { name: 'empty bearer', headers: { authorization: 'Bearer ' }, code: 'MCPGATE_KEY_MALFORMED', keySent: true },
    { name: 'checksum typo', headers: { authorization: `Bearer ${checksumTypo}` }, code: 'MCPGATE_KEY_MALFORMED', keySent: true },
    { name: 'garbage X-API-Key', headers: { 'x-api-key': 'ok1-x' }, code: 'MCPGATE_KEY_MALFORMED', keySent: true },
    { name: 'unknown keyId', headers: { authorization: `Bearer ${unknownKeyId}` }, code: 'MCPGATE_KEY_INVALID', keySent: true },
    { name: 'wrong secret', headers: { 'x-api-key': wrongSecret }, code: 'MCPGATE_KEY_INVALID', keySent: true },
    { name: 'a valid key of someone else with this keyId swapped in', headers: { authorization: `Bearer ${other.key.replace(other.keyId, good.keyId)}` }, code: 'MCPGATE_KEY_MALFORMED', keySent: true }
  ]

  for (const c of cases) {
    const res = await fetch(c.url ?? gw.mcpUrl('up'), { method: 'POST', headers: { 'content-type': 'application/json', ...c.headers }, body: '{}' })
    t.equal(res.status, 401, `${c.name}: 401`)
    const challenge = res.headers.get('www-authenticate')
    t.equal(challenge, c.keySent ? 'Bearer realm="mcpgate", error="invalid_token"' : 'Bearer realm="mcpgate"', `${c.name}: challenge`)
    t.notMatch(challenge ?? '', /resource_metadata/, `${c.name}: no resource_metadata`)
    const body = await res.json() as { jsonrpc: string, id: null, error: { code: number, message: string, data: { code: string } } }
    t.equal(body.jsonrpc, '2.0', `${c.name}: JSON-RPC envelope on MCP routes`)
    t.equal(body.id, null)
    t.equal(body.error.data.code, c.code, `${c.name}: ${c.code}`)
  }

  // Off the MCP routes the body is the plain shape.
  const me = await fetch(`${gw.url}/api/me`, { headers: { authorization: `Bearer ${wrongSecret}` } })
  t.equal(me.status, 401)
  const invalid = `The API key is not valid. ${keyHint(undefined)}`
  t.same(await me.json(), { statusCode: 401, code: 'MCPGATE_KEY_INVALID', error: 'Unauthorized', message: invalid, error_description: invalid })
  t.equal(me.headers.get('www-authenticate'), 'Bearer realm="mcpgate", error="invalid_token"')

  // A bearer that is no mcpgate key (a token meant for something else) does not hide X-API-Key;
  // a bearer that is one wins over it.
  const both = async (authorization: string, apiKey: string): Promise<number> => {
    const res = await fetch(gw.mcpUrl('up'), { method: 'POST', headers: { authorization, 'x-api-key': apiKey, 'content-type': 'application/json' }, body: '{}' })
    await res.arrayBuffer()
    return res.status
  }
  t.equal(await both('Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig', good.key), 200, 'a foreign bearer token and a good X-API-Key: the key is used')
  t.equal(await both(`Bearer ${wrongSecret}`, good.key), 401, 'a key in the bearer is the one checked')
  t.equal(upstream.requests.length, 1, 'the foreign token was not forwarded either')
  t.equal(upstream.requests[0]?.headers.authorization, undefined)

  // The good key still works: the failures above did not lock it out.
  const ok = await fetch(gw.mcpUrl('up'), { method: 'POST', headers: { authorization: `Bearer ${good.key}`, 'content-type': 'application/json' }, body: '{}' })
  t.equal(ok.status, 200)
  t.equal(upstream.requests.length, 2, 'only the authenticated requests reached the upstream')
})
