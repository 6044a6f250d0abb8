// Logs captured at trace level over a busy session — SDK traffic, every auth failure, keys in the
// query and the path, upstream errors — never contain an issued key or any part of its secret.
import t from 'tap'
import { checksumOf } from '../../core/key-format.ts'
import { connectSse, connectStreamable, createTestKey, LogCapture, startGateway, testConfig } from '../helpers/gateway.ts'
import { startMcpUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

t.test('no key in the logs', async t => {
  const upstream = await startMcpUpstream(t)
  const store = await sqliteStore(t)
  const logs = new LogCapture()
  const gw = await startGateway(t, {
    store,
    logs,
    config: testConfig({
      log: { level: 'trace' },
      servers: [
        { id: 'up', url: upstream.mcpUrl },
        { id: 'legacy', url: upstream.sseUrl },
        { id: 'down', url: 'http://127.0.0.1:1/mcp' }
      ]
    })
  })
  const good = await createTestKey(store)
  const scoped = await createTestKey(store, { mcpServerIds: ['legacy'] })
  const wrongBody = good.key.slice(0, good.key.length - good.secret.length) + 'Z'.repeat(40)
  const wrong = wrongBody + checksumOf(wrongBody)

  const a = await connectStreamable(t, gw.mcpUrl('up'), good.key)
  await a.client.callTool({ name: 'echo', arguments: { text: 'x' } })
  const b = await connectSse(t, gw.mcpUrl('legacy'), scoped.key)
  await b.client.listTools()

  const attempts: Array<[string, RequestInit]> = [
    [`${gw.mcpUrl('up')}?api_key=${good.key}`, {}],
    [`${gw.url}/mcp-connect/${good.key}`, { headers: { authorization: `Bearer ${good.key}` } }],
    [gw.mcpUrl('up', good.key), { headers: { authorization: `Bearer ${good.key}` } }],
    [gw.mcpUrl('up'), { headers: { authorization: `Bearer ${wrong}` } }],
    [gw.mcpUrl('up'), { headers: { 'x-api-key': good.key.slice(0, -3) } }],
    [gw.mcpUrl('up'), { headers: { authorization: `Bearer ${scoped.key}` } }],
    [gw.mcpUrl('down'), { headers: { authorization: `Bearer ${good.key}`, cookie: `k=${good.key}` } }],
    [`${gw.url}/api/me`, { headers: { 'x-api-key': good.key } }],
    [`${gw.url}/nowhere?key=${good.key}`, {}]
  ]
  for (const [url, init] of attempts) await (await fetch(url, { method: 'GET', ...init })).arrayBuffer()

  const text = logs.text()
  t.ok(logs.lines.length > 20, `captured ${logs.lines.length} log lines`)
  t.match(text, /ok1-\[redacted\]/, 'keys in URLs were masked, not dropped silently')
  t.match(text, /upstream request failed/, 'the upstream error was logged')
  for (const k of [good, scoped]) {
    t.notOk(text.includes(k.key), 'no full key')
    t.notOk(text.includes(k.secret.slice(0, 40)), 'no secret')
    t.notOk(text.includes(k.secret.slice(8, 24)), 'no fragment of a secret')
  }
  t.notOk(text.includes(wrong.slice(-40)), 'no wrong secret either')
})

t.test('caller-supplied logger options cannot turn the redaction off', async t => {
  const store = await sqliteStore(t)
  const logs = new LogCapture()
  // Options as a caller might give them, asking for no redaction and no serializers.
  const logger = { level: 'trace', redact: [], serializers: {}, stream: logs }
  const gw = await startGateway(t, { store, logger, config: testConfig({ servers: [{ id: 'down', url: 'http://127.0.0.1:1/mcp' }] }) })
  const k = await createTestKey(store)
  await (await fetch(`${gw.mcpUrl('down')}?key=${k.key}`, { headers: { authorization: `Bearer ${k.key}` } })).arrayBuffer()
  await (await fetch(`${gw.url}/mcp-connect/${k.key}`)).arrayBuffer()
  const text = logs.text()
  t.match(text, /incoming request/, 'the caller\'s stream received the gateway\'s logs at the caller\'s level')
  t.match(text, /ok1-\[redacted\]/)
  t.notOk(text.includes(k.secret.slice(0, 40)), 'no secret')
})
