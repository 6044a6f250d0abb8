// Routing: an unknown server is 404, a malformed or encoded server id 400, a path escaping the
// server's directory 400 — none proxied; `/.well-known/oauth-*` and everything else a fast JSON 404
// without authentication.
import { request } from 'node:http'
import t from 'tap'
import { keyHint } from '../../gateway/reply-error.ts'
import { createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

/** node:http sends the path byte for byte (fetch would normalise `..` and `%2e`). */
function raw (url: string, path: string, headers: Record<string, string>, method = 'POST'): Promise<{ status: number, body: string, headers: Record<string, unknown> }> {
  const u = new URL(url)
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method, headers }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', c => { body += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }))
    })
    req.on('error', reject)
    req.end(method === 'POST' ? '{}' : undefined)
  })
}

t.test('400 and 404', async t => {
  const upstream = await startRawUpstream(t, (_req, res) => { res.end('{}') })
  const store = await sqliteStore(t)
  const gw = await startGateway(t, { store, config: testConfig({ servers: [{ id: 'up', url: `${upstream.origin}/base/mcp` }] }) })
  const { key } = await createTestKey(store)
  const auth = { authorization: `Bearer ${key}` }

  const unknown = await raw(gw.url, '/mcp-connect/nope', auth)
  t.equal(unknown.status, 404)
  t.equal(unknown.headers['www-authenticate'], undefined, 'no challenge on 404')
  t.same(JSON.parse(unknown.body), { jsonrpc: '2.0', id: null, error: { code: -32000, message: `MCP server "nope" not found. ${keyHint(undefined)}`, data: { code: 'MCPGATE_SERVER_NOT_FOUND', hint: keyHint(undefined) } } })

  const badIds = ['UP', 'up%2e', '%75p', 'up%00', '-up', '_up', 'u%2Fp', 'up%5c', '..', '%2e%2e', '.', 'up.', '%EF%BC%8E%EF%BC%8E', 'a'.repeat(65), 'up;x', 'up%20']
  for (const id of badIds) {
    const res = await raw(gw.url, `/mcp-connect/${id}`, auth)
    t.ok(res.status === 400 || res.status === 404, `id ${id}: ${res.status}`)
    if (res.status === 400) t.equal(JSON.parse(res.body).error.data.code, 'MCPGATE_SERVER_ID_INVALID')
    t.equal(res.headers['www-authenticate'], undefined)
  }

  const badPaths = ['..', '../x', 'a/../../x', '%2e%2e/x', '%2E%2e', 'a%2f..%2f..', '.%2e', 'x%5c..%5cy', 'x%00', '%EF%BC%8E%EF%BC%8E/x', 'a//b', './x', 'x/./y', '..%2f', '%252e%252e']
  for (const rest of badPaths) {
    const res = await raw(gw.url, `/mcp-connect/up/${rest}`, auth)
    t.equal(res.status, 400, `rest ${rest}: 400`)
    t.equal(JSON.parse(res.body).error.data.code, 'MCPGATE_PATH_INVALID', `rest ${rest}: PATH_INVALID`)
  }
  // A double slash right after the id is an empty segment too.
  t.equal((await raw(gw.url, '/mcp-connect/up//x', auth)).status, 400)
  t.equal(upstream.requests.length, 0, 'nothing above was proxied')

  for (const path of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-authorization-server/mcp-connect/up', '/', '/mcp-connect', '/api/other']) {
    const res = await raw(gw.url, path, {}, 'GET')
    t.equal(res.status, 404, `${path}: 404 without a key`)
    t.equal(res.headers['www-authenticate'], undefined, `${path}: no auth challenge`)
    const body = JSON.parse(res.body)
    // Under /mcp-connect the error is a JSON-RPC envelope, elsewhere the plain shape.
    const code = path.startsWith('/.well-known/') ? 'MCPGATE_OAUTH_NOT_ENABLED' : 'MCPGATE_ROUTE_NOT_FOUND'
    t.equal(path.startsWith('/mcp-connect') ? body.error.data.code : body.code, code)
  }
  t.equal((await raw(gw.url, '/mcp-connect/up', auth, 'PUT')).status, 404, 'PUT is not an MCP method')
  t.equal((await raw(gw.url, '/mcp-connect/up', auth, 'HEAD')).status, 404, 'no automatic HEAD route')
  t.equal(upstream.requests.length, 0)

  t.equal((await raw(gw.url, '/mcp-connect/up/x/./../y'.replace('/./../', '/ok/'), auth)).status, 200, 'a clean sub-path is proxied')
  t.equal(upstream.requests[0]?.url, '/base/x/ok/y')
})
