// Target (f), a reference: the least a Node proxy on undici can do per request — node:http and
// one undici Agent, each answer relayed by a dispatch handler as undici parses it
// (bench/floor-relay.ts). No Fastify, no reply-from, no authentication, logging or metrics. A
// target it misses in a run was out of reach, in that run, for any Node proxy on undici
// (bench/README.md, round 10). Same public paths as mcpgate: /mcp-connect/bench[/rest] → the
// upstream's /mcp[/rest].
import { createServer } from 'node:http'
import { announceReady, childOptions, exitWithParent } from './child.ts'
import { FloorRelay } from './floor-relay.ts'

const opts = childOptions()
if (opts.upstream === undefined) throw new Error('node-floor: --upstream http://127.0.0.1:PORT is required')
const PREFIX = '/mcp-connect/bench'
const relay = new FloorRelay(opts.upstream)

const server = createServer((req, res) => {
  const url = req.url ?? ''
  if (!url.startsWith(PREFIX)) {
    res.writeHead(404).end()
    return
  }
  relay.send(req, '/mcp' + url.slice(PREFIX.length), res)
})
server.listen(Number(opts.port ?? 0), '127.0.0.1', () => {
  const addr = server.address()
  announceReady(typeof addr === 'object' && addr !== null ? addr.port : 0)
})
exitWithParent(async () => {
  server.closeAllConnections()
  await new Promise<void>(resolve => server.close(() => resolve()))
  await relay.close()
})
