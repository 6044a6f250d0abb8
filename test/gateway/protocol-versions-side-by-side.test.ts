// One gateway, every protocol era at once: official MCP SDK clients negotiating 2025-11-25,
// 2025-06-18 and 2025-03-26 with the SDK test upstream, concurrently with a 2026-07-28 client
// (stateless, hand-driven) talking to the hand-built 2026-07-28 upstream. Each lists tools and
// calls echo; each era's MCP-Protocol-Version reaches its upstream unchanged on every request.
import t from 'tap'
import type { Test } from 'tap'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js'
import { isInitializeRequest, type JSONRPCMessage, type JSONRPCRequest } from '@modelcontextprotocol/sdk/types.js'
import { createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { MODERN_VERSION, modernHeaders, modernRequest, startModernUpstream } from '../helpers/mcp-2026-upstream.ts'
import { startMcpUpstream } from '../helpers/mcp-upstream.ts'
import { sqliteStore } from '../helpers/stores.ts'

const LEGACY_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26'] as const

/**
 * The SDK's Client always offers its latest version in `initialize` (no option for another); this
 * transport, wrapped around the SDK's own Streamable HTTP transport, offers `version` instead. The
 * rest is the SDK's: the server answers with the offered version, the Client accepts it and sets
 * it on the transport, which sends it as MCP-Protocol-Version from then on.
 */
class VersionOfferingTransport implements Transport {
  onclose?: () => void
  onerror?: (error: Error) => void
  onmessage?: Transport['onmessage']
  /** The protocolVersion in the server's initialize result. */
  negotiated: string | undefined
  #initId: string | number | undefined

  constructor (readonly inner: StreamableHTTPClientTransport, readonly version: string) {}

  get sessionId (): string | undefined { return this.inner.sessionId }

  async start (): Promise<void> {
    this.inner.onclose = () => this.onclose?.()
    this.inner.onerror = error => this.onerror?.(error)
    this.inner.onmessage = (message: JSONRPCMessage) => {
      if ('id' in message && message.id === this.#initId && 'result' in message) {
        this.negotiated = (message.result as { protocolVersion?: string }).protocolVersion
      }
      this.onmessage?.(message)
    }
    await this.inner.start()
  }

  async send (message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if (isInitializeRequest(message)) {
      const request = message as JSONRPCRequest
      this.#initId = request.id
      message = { ...request, params: { ...request.params, protocolVersion: this.version } }
    }
    await this.inner.send(message, options)
  }

  close (): Promise<void> { return this.inner.close() }

  setProtocolVersion (version: string): void { this.inner.setProtocolVersion(version) }
}

function legacyClient (t: Test, url: string, key: string, version: string): { client: Client, transport: VersionOfferingTransport } {
  const inner = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${key}` } } })
  const transport = new VersionOfferingTransport(inner, version)
  const client = new Client({ name: `mcpgate-test-${version}`, version: '1.0.0' })
  t.teardown(() => client.close())
  return { client, transport }
}

function textOf (result: unknown): string {
  return (result as { content: Array<{ text?: string }> }).content.map(c => c.text ?? '').join('')
}

t.test('2025-11-25, 2025-06-18, 2025-03-26 and 2026-07-28 clients through one gateway at once', async t => {
  const legacyUpstream = await startMcpUpstream(t)
  const modernUpstream = await startModernUpstream(t)
  const store = await sqliteStore(t)
  const gw = await startGateway(t, {
    store,
    config: testConfig({ servers: [{ id: 'legacy', url: legacyUpstream.mcpUrl }, { id: 'modern', url: modernUpstream.mcpUrl }] })
  })
  const { key } = await createTestKey(store)

  const legacy = LEGACY_VERSIONS.map(version => ({ version, ...legacyClient(t, gw.mcpUrl('legacy'), key, version) }))
  let nextId = 1
  const modern = async (method: string, params?: Record<string, unknown>): Promise<Record<string, unknown>> => {
    const body = modernRequest(nextId++, method, params)
    const res = await fetch(gw.mcpUrl('modern'), { method: 'POST', headers: { authorization: `Bearer ${key}`, ...modernHeaders(body) }, body: JSON.stringify(body) })
    t.equal(res.status, 200, `2026-07-28 ${method}: 200`)
    t.equal(res.headers.get('mcp-session-id'), null, `2026-07-28 ${method}: no session`)
    const answer = await res.json() as { result?: Record<string, unknown>, error?: unknown }
    if (answer.result === undefined) throw new Error(`2026-07-28 ${method}: ${JSON.stringify(answer.error)}`)
    return answer.result
  }

  // Each step runs for every era at the same moment, interleaved on the gateway.
  const [, discover] = await Promise.all([Promise.all(legacy.map(c => c.client.connect(c.transport))), modern('server/discover')])
  t.same((discover as { supportedVersions: string[] }).supportedVersions, [MODERN_VERSION], '2026-07-28 server/discover')

  const [lists, modernList] = await Promise.all([Promise.all(legacy.map(c => c.client.listTools())), modern('tools/list')])
  for (const [i, c] of legacy.entries()) {
    t.same(lists[i]?.tools.map(tool => tool.name).sort(), ['echo', 'notify', 'progress'], `${c.version}: tools/list`)
  }
  t.same((modernList.tools as Array<{ name: string }>).map(tool => tool.name), ['echo', 'stream_echo', 'grüß'], '2026-07-28: tools/list')

  const [calls, modernCall] = await Promise.all([
    Promise.all(legacy.map(c => c.client.callTool({ name: 'echo', arguments: { text: `hello from ${c.version}` } }))),
    modern('tools/call', { name: 'echo', arguments: { text: `hello from ${MODERN_VERSION}` } })
  ])
  for (const [i, c] of legacy.entries()) {
    t.equal(textOf(calls[i]), `hello from ${c.version}`, `${c.version}: tools/call echo`)
  }
  t.equal(textOf(modernCall), `hello from ${MODERN_VERSION}`, `${MODERN_VERSION}: tools/call echo`)

  const sessions = new Set<string>()
  for (const c of legacy) {
    t.equal(c.transport.negotiated, c.version, `${c.version}: the upstream answered initialize with the offered version`)
    t.equal(c.transport.inner.protocolVersion, c.version, `${c.version}: the SDK client took it`)
    const sessionId = c.transport.sessionId as string
    t.type(sessionId, 'string', `${c.version}: a session of its own`)
    sessions.add(sessionId)
    const inSession = legacyUpstream.requests.filter(r => r.headers['mcp-session-id'] === sessionId)
    t.ok(inSession.length >= 3, `${c.version}: initialized, tools/list and tools/call went upstream in its session`)
    t.same([...new Set(inSession.map(r => r.headers['mcp-protocol-version']))], [c.version],
      `${c.version}: every request in the session reached the upstream with MCP-Protocol-Version ${c.version}`)
  }
  t.equal(sessions.size, LEGACY_VERSIONS.length, 'three clients, three sessions')
  const offered = legacyUpstream.requests
    .map(r => JSON.parse(r.body === '' ? '{}' : r.body) as { method?: string, params?: { protocolVersion?: string } })
    .filter(body => body.method === 'initialize')
    .map(body => body.params?.protocolVersion)
  t.same(offered.sort(), [...LEGACY_VERSIONS].sort(), 'each initialize reached the upstream offering its own version')

  t.equal(modernUpstream.requests.length, 3, '2026-07-28: three requests upstream')
  t.ok(modernUpstream.requests.every(r => r.headers['mcp-protocol-version'] === MODERN_VERSION && r.headers['mcp-session-id'] === undefined),
    '2026-07-28: MCP-Protocol-Version passed through, no session')
  t.same(modernUpstream.toolRuns, ['echo'])
  t.notOk(legacyUpstream.requests.some(r => r.headers['mcp-protocol-version'] === MODERN_VERSION), 'no 2026-07-28 request reached the legacy upstream')
})
