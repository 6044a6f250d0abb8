// Hand-driven MCP over HTTP for tests that need to hold the streams themselves: initialize a
// Streamable HTTP session, open its standalone GET stream, read an SSE body until it ends.
import { setTimeout as delay } from 'node:timers/promises'

export const MCP_ACCEPT = 'application/json, text/event-stream'

export interface RawSession {
  sessionId: string
  headers: Record<string, string>
}

/** POST initialize + notifications/initialized with `key`; the session's headers for later requests. */
export async function initSession (url: string, key: string, protocolVersion = '2025-11-25'): Promise<RawSession> {
  const base = { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: MCP_ACCEPT }
  const init = await fetch(url, {
    method: 'POST',
    headers: base,
    body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion, capabilities: {}, clientInfo: { name: 'raw', version: '1' } } })
  })
  if (init.status !== 200) throw new Error(`initialize: ${init.status} ${await init.text()}`)
  await init.arrayBuffer()
  const sessionId = init.headers.get('mcp-session-id')
  if (sessionId === null) throw new Error('initialize: no Mcp-Session-Id')
  const headers = { ...base, 'mcp-session-id': sessionId, 'mcp-protocol-version': protocolVersion }
  const note = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) })
  await note.arrayBuffer()
  return { sessionId, headers }
}

export interface OpenStream {
  status: number
  /** Everything read so far, as text. */
  text (): string
  /** Resolves when the body ends: 'end' (a clean end), 'error' (cut), or 'timeout'. */
  ended (timeoutMs?: number): Promise<'end' | 'error' | 'timeout'>
  /** Resolves once `pattern` appears in what was read (or rejects after timeoutMs). */
  waitFor (pattern: RegExp, timeoutMs?: number): Promise<void>
  close (): void
}

/** Issues the request and reads its body in the background. */
export async function openStream (url: string, init: RequestInit): Promise<OpenStream> {
  const controller = new AbortController()
  const res = await fetch(url, { ...init, signal: controller.signal })
  let text = ''
  const decoder = new TextDecoder()
  const waiters = new Set<() => void>()
  const reading = (async (): Promise<'end' | 'error'> => {
    if (res.body === null) return 'end'
    const reader = res.body.getReader()
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) return 'end'
        text += decoder.decode(value, { stream: true })
        for (const w of waiters) w()
      }
    } catch {
      return 'error'
    } finally {
      for (const w of waiters) w()
    }
  })()
  return {
    status: res.status,
    text: () => text,
    async ended (timeoutMs = 5000) {
      const timer = delay(timeoutMs, 'timeout' as const, { ref: false })
      return Promise.race([reading, timer])
    },
    async waitFor (pattern, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs
      while (!pattern.test(text)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${String(pattern)} in ${JSON.stringify(text.slice(0, 300))}`)
        await new Promise<void>(resolve => {
          waiters.add(resolve)
          setTimeout(resolve, 100).unref()
        })
      }
    },
    close () { controller.abort() }
  }
}
