// Targets (d) and (e), and the revocation replicas: mcpgate's gateway as `mcpgate gateway` runs it
// (cli/serve.ts passes no logger, so buildGateway's own buffered one; the store the config names),
// in its own child process.
// Argument: --config <file with a config document as JSON>; logs go to the child's stdout.
import { readFileSync } from 'node:fs'
import { buildConfig } from '../config/load.ts'
import { openStore } from '../core/store/open.ts'
import { buildGateway } from '../gateway/app.ts'
import { announceReady, answerMemoryQueries, childOptions, exitWithParent } from './child.ts'

const opts = childOptions()
if (opts.config === undefined) throw new Error('gateway-target: --config FILE is required')
const config = buildConfig(JSON.parse(readFileSync(opts.config, 'utf8')), {}, opts.config)
const store = openStore(config.store)
const app = await buildGateway(config, { store })
await app.listen({ host: config.gateway.host, port: config.gateway.port })
const addr = app.server.address()
answerMemoryQueries()
announceReady(typeof addr === 'object' && addr !== null ? addr.port : 0)
exitWithParent(async () => {
  await app.close()
  await store.close()
})
