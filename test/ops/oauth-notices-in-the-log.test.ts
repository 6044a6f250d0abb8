// oidc-provider prints notices with console.warn when it is loaded ("Unsupported runtime" on
// Node 20, where mcpgate runs and is tested): an admin API in OAuth mode writes them as structured
// log lines, so its output stays one JSON object per log line.
import t from 'tap'
import { join } from 'node:path'
import { tempDir } from '../helpers/stores.ts'
import { ADMIN_TOKEN, FAST_HASHING, startMcpgate, writeConfig } from '../helpers/processes.ts'

t.test('an admin API in OAuth mode', async t => {
  const config = writeConfig(t, {
    admin: { host: '127.0.0.1', port: 0, token: ADMIN_TOKEN, publicUrl: 'http://127.0.0.1:1', oidc: { issuer: 'https://idp.invalid', audience: 'mcpgate', jwksUrl: 'https://idp.invalid/jwks', clientId: 'console' } },
    gateway: { publicUrl: 'http://127.0.0.1:2' },
    store: { type: 'sqlite', path: join(tempDir(t), 'mcpgate.db') },
    hashing: FAST_HASHING,
    log: { level: 'info', accessLog: false },
    oauth: { enabled: true },
    servers: [{ id: 'up', url: 'http://127.0.0.1:9/mcp' }]
  })
  const admin = await startMcpgate(t, 'admin', config)
  const metadata = await fetch(`${admin.url}/.well-known/oauth-authorization-server`)
  t.equal(metadata.status, 200, 'serves the authorization server (oidc-provider loaded)')
  await metadata.arrayBuffer()
  const lines = admin.output().split('\n').filter(line => line !== '')
  t.same(lines.filter(line => line.includes('oidc-provider') && !line.startsWith('{')), [], 'no raw oidc-provider line in the output')
  const notices = lines.filter(line => line.startsWith('{') && line.includes('a notice from oidc-provider')).map(line => JSON.parse(line) as { level: number, notice: string })
  if (Number(process.versions.node.split('.')[0]) < 22) {
    t.equal(notices.length, 1, 'on Node 20 its runtime notice is one log line')
    t.match(notices[0], { level: 40, notice: /^oidc-provider WARNING: Unsupported runtime/ }, 'at warn level, with the notice')
  } else {
    t.same(notices, [], 'on Node 22+ it has nothing to say')
  }
})
