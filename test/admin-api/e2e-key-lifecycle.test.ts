// End to end: a key created over the admin REST API works through the gateway with a real MCP
// client; deleted over REST, the very next gateway request is refused (SQLite, one process) or
// within 100 ms (Redis, admin and gateway on separate connections).
import t, { type Test } from 'tap'
import { startStack } from '../helpers/admin.ts'
import { connectStreamable } from '../helpers/gateway.ts'

async function lifecycle (t: Test, kind: 'sqlite' | 'redis') {
  const { idp, admin, gateway, send, sendUntil } = await startStack(t, kind)
  const token = await idp.sign({ email: 'dev@example.com', name: 'Dev' }, { expiresIn: 3600 })

  const created = await admin.request({ method: 'POST', url: '/api/api-keys', token, body: { name: 'e2e', mcpServerIds: ['alpha'] } })
  t.equal(created.statusCode, 201)
  const { key, id } = created.json()

  const { client } = await connectStreamable(t, gateway.mcpUrl('alpha'), key)
  const result = await client.callTool({ name: 'echo', arguments: { text: 'through the gateway' } })
  t.match(JSON.stringify(result.content), 'through the gateway', 'an MCP tool call with the new key')
  t.equal((await send('alpha', key)).status, 200, 'cached now')

  const deleted = await admin.request({ method: 'DELETE', url: `/api/api-keys/${id}`, token })
  t.equal(deleted.statusCode, 204)
  const refused = kind === 'sqlite' ? await send('alpha', key) : await sendUntil('alpha', key, s => s !== 200)
  t.same(refused, { status: 401, code: 'MCPGATE_KEY_INVALID' }, kind === 'sqlite' ? 'the next request is refused' : 'refused within 100 ms')
  await t.rejects(client.callTool({ name: 'echo', arguments: { text: 'again' } }), 'the open MCP session is refused too')
}

t.test('SQLite', async t => lifecycle(t, 'sqlite'))
t.test('Redis', async t => lifecycle(t, 'redis'))
