// Ready-to-paste client configuration for a new key: Claude Code, VS Code (mcp.json) and curl.
export interface SnippetServer {
  id: string
  name: string
}

export function connectUrl (gatewayUrl: string, serverId: string): string {
  return `${gatewayUrl.replace(/\/+$/, '')}/mcp-connect/${encodeURIComponent(serverId)}`
}

/** POSIX shell quoting, only when needed (ids are slugs and keys base62, so usually never). */
export function shellQuote (s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, '\'\\\'\'')}'`
}

export function claudeCodeSnippet (gatewayUrl: string, servers: readonly SnippetServer[], key: string): string {
  return servers
    .map(s => `claude mcp add --transport http ${shellQuote(s.id)} ${shellQuote(connectUrl(gatewayUrl, s.id))} --header "Authorization: Bearer ${key}"`)
    .join('\n')
}

export function vscodeSnippet (gatewayUrl: string, servers: readonly SnippetServer[], key: string): string {
  const entries: Record<string, unknown> = {}
  for (const s of servers) {
    entries[s.id] = { type: 'http', url: connectUrl(gatewayUrl, s.id), headers: { Authorization: `Bearer ${key}` } }
  }
  return JSON.stringify({ servers: entries }, null, 2)
}

export function curlSnippet (gatewayUrl: string, servers: readonly SnippetServer[], key: string): string {
  const initialize = JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'curl', version: '1.0.0' } }
  })
  return servers.map(s => [
    `# ${s.name}`,
    `curl -sS ${shellQuote(connectUrl(gatewayUrl, s.id))} \\`,
    `  -H "Authorization: Bearer ${key}" \\`,
    '  -H "Content-Type: application/json" \\',
    '  -H "Accept: application/json, text/event-stream" \\',
    `  -d ${shellQuote(initialize)}`
  ].join('\n')).join('\n\n')
}
