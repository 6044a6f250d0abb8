// Targets (d) and (e), and the revocation replicas: mcpgate's gateway as a production process
// would run it (cli/serve.ts's logger, the store the config names), in its own child process.
// Argument: --config <file with a config document as JSON>; logs go to the child's stdout.
import { readFileSync } from 'node:fs'
import { buildConfig } from '../config/load.ts'
import { openStore } from '../core/store/open.ts'
import { buildGateway } from '../gateway/app.ts'
import { createLogger } from '../cli/serve.ts'
import { announceReady, childOptions, exitWithParent } from './child.ts'

const opts = childOptions()
if (opts.config === undefined) throw new Error('gateway-target: --config FILE is required')
const config = buildConfig(JSON.parse(readFileSync(opts.config, 'utf8')), {}, opts.config)
const logger = createLogger(config)
const store = openStore(config.store)
const app = await buildGateway(config, { store, logger })
await app.listen({ host: config.gateway.host, port: config.gateway.port })
const addr = app.server.address()
announceReady(typeof addr === 'object' && addr !== null ? addr.port : 0)
exitWithParent(async () => {
  await app.close()
  await store.close()
})
