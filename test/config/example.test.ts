// The shipped example and demo configs are valid against the schema.
import t from 'tap'
import { loadConfigFile } from '../../config/load.ts'

t.test('config/mcpgate.example.yaml is valid', async t => {
  const c = loadConfigFile(new URL('../../config/mcpgate.example.yaml', import.meta.url).pathname, { GITHUB_MCP_TOKEN: 'x' })
  t.equal(c.servers[0]?.id, 'github')
  t.same(c.servers[0]?.headers, { Authorization: 'Bearer x' })
})

t.test('config/demo.yaml is valid', async t => {
  const c = loadConfigFile(new URL('../../config/demo.yaml', import.meta.url).pathname, {})
  t.equal(c.store.type, 'sqlite')
  t.equal(c.servers[0]?.id, 'demo')
})

t.test('config/compose.yaml (docker-compose) is valid', async t => {
  const c = loadConfigFile(new URL('../../config/compose.yaml', import.meta.url).pathname, {})
  t.equal(c.store.type, 'redis')
  t.equal(c.gateway.host, '0.0.0.0')
})
