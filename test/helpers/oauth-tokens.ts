// Access tokens for OAuth-mode tests: a real one from the AS
// (client_credentials with an API key), one signed by the test with a given private key (what
// someone holding that key could mint), the answer of the gateway to each, a request to the token
// endpoint, and every value a
// store holds (to look for key material in it).
import Database from 'better-sqlite3'
import { decodeJwt, decodeProtectedHeader, importJWK, SignJWT, type JWK } from 'jose'
import { ACCESS_TOKEN_TYP, KEY_CLAIM, SIGNING_ALG } from '../../core/oauth.ts'
import { RedisStore } from '../../core/store/redis.ts'
import { SqliteStore } from '../../core/store/sqlite.ts'
import type { OAuthStack } from './oauth-stack.ts'

/** An API key of a user signed in at the stack's IdP, for alpha. */
export async function apiKey (stack: OAuthStack): Promise<{ id: string, key: string }> {
  const alice = await stack.idp.sign({ email: 'alice@example.com', name: 'Alice' })
  const res = await fetch(`${stack.adminUrl}/api/api-keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'robot', mcpServerIds: ['alpha'] })
  })
  if (res.status !== 201) throw new Error(`creating a key: ${res.status} ${await res.text()}`)
  return await res.json() as { id: string, key: string }
}

/** A client_credentials access token for alpha, and the kid it is signed with. */
export async function issuedToken (stack: OAuthStack, key: { id: string, key: string }): Promise<{ token: string, kid: string }> {
  const res = await fetch(`${stack.adminUrl}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: key.id, client_secret: key.key, resource: stack.mcpUrl('alpha'), scope: 'mcp' })
  })
  const body = await res.json() as { access_token?: string }
  if (res.status !== 200 || body.access_token === undefined) throw new Error(`token: ${res.status} ${JSON.stringify(body)}`)
  return { token: body.access_token, kid: decodeProtectedHeader(body.access_token).kid ?? '' }
}

/** A token like the AS's (`like` gives issuer and key claim) signed with `jwk`, valid from `nowMs` for ten minutes. */
export async function mintedToken (jwk: JWK, like: string, nowMs: number): Promise<string> {
  const claims = decodeJwt(like)
  const now = Math.floor(nowMs / 1000)
  return await new SignJWT({ [KEY_CLAIM]: claims[KEY_CLAIM], scope: 'mcp' })
    .setProtectedHeader({ alg: SIGNING_ALG, typ: ACCESS_TOKEN_TYP, ...(jwk.kid === undefined ? {} : { kid: jwk.kid }) })
    .setIssuer(claims.iss ?? '')
    .setAudience(claims.aud ?? '')
    .setJti(`minted-${Math.random().toString(36).slice(2)}`)
    .setIssuedAt(now)
    .setExpirationTime(now + 600)
    .sign(await importJWK(jwk, SIGNING_ALG))
}

/** The gateway's status for an MCP initialize on `serverId` with this bearer (a token or a key). */
export async function mcpStatus (stack: OAuthStack, accessToken: string, serverId = 'alpha'): Promise<number> {
  const res = await fetch(stack.mcpUrl(serverId), {
    method: 'POST',
    headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'm', version: '1' } } })
  })
  await res.arrayBuffer()
  return res.status
}

/** A request to the token endpoint (client_secret_basic with `basic`): its status, Retry-After and JSON body. */
export async function tokenRequest (stack: OAuthStack, form: Record<string, string>, basic?: [string, string]): Promise<{ status: number, retryAfter: string | null, body: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' }
  if (basic !== undefined) headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(basic[0])}:${encodeURIComponent(basic[1])}`).toString('base64')}`
  const res = await fetch(`${stack.adminUrl}/oauth/token`, { method: 'POST', headers, body: new URLSearchParams(form) })
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() as Record<string, unknown> }
}

/** The kids the AS publishes at its JWKS endpoint, and whether any entry carries a private member. */
export async function publishedJwks (stack: OAuthStack): Promise<{ kids: string[], private: boolean }> {
  const res = await fetch(`${stack.adminUrl}/oauth/jwks`)
  const body = await res.json() as { keys: JWK[] }
  return { kids: body.keys.map(k => k.kid ?? ''), private: body.keys.some(k => k.d !== undefined) }
}

/** Every value of every row of every table (SQLite), or of every key (Redis): what reading the store gives. */
export async function everythingStored (stack: OAuthStack): Promise<string[]> {
  const { store } = stack
  if (store instanceof SqliteStore) {
    const db = new Database(store.path, { readonly: true })
    try {
      const tables = db.prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all()
      const values: string[] = []
      for (const table of tables) {
        for (const row of db.prepare<[], Record<string, unknown>>(`SELECT * FROM "${table}"`).all()) {
          for (const v of Object.values(row)) values.push(Buffer.isBuffer(v) ? v.toString('utf8') : String(v))
        }
      }
      return values
    } finally {
      db.close()
    }
  }
  if (store instanceof RedisStore && stack.redis !== undefined) {
    const client = stack.redis.client()
    const values: string[] = []
    let cursor = '0'
    do {
      const [next, keys] = await client.scan(cursor, 'COUNT', 1000)
      cursor = next
      for (const key of keys) {
        const type = await client.type(key)
        if (type === 'string') values.push(await client.get(key) ?? '')
        else if (type === 'hash') values.push(...Object.values(await client.hgetall(key)))
        else if (type === 'set') values.push(...await client.smembers(key))
        else if (type === 'zset') values.push(...await client.zrange(key, 0, -1))
        else if (type === 'list') values.push(...await client.lrange(key, 0, -1))
        else if (type === 'stream') values.push(JSON.stringify(await client.xrange(key, '-', '+')))
        else throw new Error(`${key}: a ${type} this scan does not read`)
      }
    } while (cursor !== '0')
    return values
  }
  throw new TypeError('everythingStored: a SqliteStore, or a RedisStore with its server')
}
