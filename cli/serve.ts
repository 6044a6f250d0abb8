// `mcpgate start|gateway|admin`: load config, open the store, build the apps, listen, and close
// with grace on SIGTERM/SIGINT (a second signal exits at once). SIGHUP or a change of the config
// file reloads servers and rules.
import { readFileSync } from 'node:fs'
import closeWithGrace from 'close-with-grace'
import { pino, type Logger } from 'pino'
import type { FastifyInstance } from 'fastify'
import { watchConfigDir } from './config-watch.ts'
import { configPath as chooseConfig, loadConfig, parseCommandArgs, UsageError, type Io } from './command.ts'
import { fileOptions, parseConfigText, type Env } from '../config/load.ts'
import type { Config } from '../config/schema.ts'
import { openStore } from '../core/store/open.ts'
import { buildGateway } from '../gateway/app.ts'

/** The file's content, or null when it cannot be read (mid-replace, removed). */
function readText (path: string): string | null {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return null
  }
}

/** After the gateway's drain: time for the last-used flush and closing the store before a forced exit. */
export const SHUTDOWN_MARGIN_MS = 5000

/** The CLI's own lifecycle messages; each app builds its logger with its own redaction list. */
export function createLogger (config: Readonly<Config>): Logger {
  return pino({ level: config.log.level })
}

/** The URL a listening app is reachable at (the real port when the config said 0). */
function urlOf (app: FastifyInstance): string {
  const address = app.server.address()
  if (address === null || typeof address === 'string') return String(address)
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return `http://${host}:${address.port}`
}

/**
 * A URL a client on this machine can use for an app bound to every interface (0.0.0.0 or ::, as in
 * a container): loopback, since that is where a published port arrives on the host too.
 */
function connectableUrl (url: string): string {
  return url.replace('//0.0.0.0:', '//127.0.0.1:').replace('//[::]:', '//[::1]:')
}

export async function runServices (command: 'start' | 'gateway' | 'admin', args: string[], env: Env, io: Io): Promise<number> {
  const { values } = parseCommandArgs(args, { demo: { type: 'boolean', default: false } })
  if (values.help) {
    io.out(`Usage: mcpgate ${command} [--config FILE]${command === 'start' ? ' [--demo]' : ''}`)
    return 0
  }
  if (values.demo && command !== 'start') throw new UsageError('--demo is only for "mcpgate start"')
  const configPath = chooseConfig(values.config, env, io)
  let config = loadConfig(configPath, env)
  // The content last loaded (or rejected): a file change that leaves it as it was reloads nothing,
  // and a SIGHUP sent after an edit is not followed by a second reload from the watcher.
  let loadedText = readText(configPath)
  let stopWatching = (): void => {}
  const logger = createLogger(config)
  const store = openStore(config.store)
  const apps: FastifyInstance[] = []
  const reloaders: Array<(next: Readonly<Config>) => void> = []
  /** What is printed once everything listens and the config file is watched. */
  const ready: string[] = []
  let closeDemo: (() => Promise<void>) | undefined
  let demoBanner: ((gatewayUrl: string, adminUrl: string) => string) | undefined

  // The gateway drains in-flight requests for shutdownGraceMs (core/connection-drain.ts); the margin is
  // for what follows: the last-used flush, closing the store and the demo server.
  // close-with-grace treats SIGHUP as a shutdown signal by default; here it means "reload" (below).
  const shutdown = closeWithGrace({ delay: config.gateway.shutdownGraceMs + SHUTDOWN_MARGIN_MS, skip: ['SIGHUP'], logger: { error: (m: unknown) => logger.error(m) } }, async ({ signal, err }) => {
    if (err !== undefined) logger.error({ err }, 'fatal error, shutting down')
    else logger.info({ signal }, 'shutting down')
    stopWatching()
    // Both apps drain at once: one after the other, two stuck requests would need two grace
    // periods and outlast the forced exit (exit 1). Each flushes what it owes (last-used) as it closes.
    await Promise.all(apps.map(app => app.close()))
    await closeDemo?.()
    await store.close()
  })

  try {
    if (values.demo) {
      const { startDemo } = await import('./demo.ts')
      const demo = await startDemo(config, store)
      closeDemo = demo.close
      demoBanner = demo.banner
    }
    if (command === 'start' || command === 'gateway') {
      const gateway = await buildGateway(config, { store })
      apps.push(gateway)
      reloaders.push(next => gateway.mcpgate.reload(next))
      await gateway.listen({ host: config.gateway.host, port: config.gateway.port })
      ready.push(`mcpgate gateway listening on ${urlOf(gateway)}/mcp-connect/<serverId>`)
    }
    if (command === 'start' || command === 'admin') {
      // Loaded only when served: `mcpgate gateway` never pays the admin API's modules (~50 MB RSS).
      const { buildAdmin } = await import('../admin-api/app.ts')
      const admin = await buildAdmin(config, { store })
      apps.push(admin)
      reloaders.push(next => admin.mcpgateAdmin.reload(next))
      await admin.listen({ host: config.admin.host, port: config.admin.port })
      ready.push(`mcpgate admin API listening on ${urlOf(admin)} (OpenAPI: /openapi.json, docs: /docs)`)
    }
    // Last, once both listen: it prints their real addresses (the config may say port 0).
    const [gateway, admin] = apps
    if (demoBanner !== undefined && gateway !== undefined && admin !== undefined) {
      ready.push(demoBanner(config.gateway.publicUrl ?? connectableUrl(urlOf(gateway)), connectableUrl(urlOf(admin))))
    }
  } catch (err) {
    shutdown.uninstall()
    for (const app of apps) await app.close().catch(() => {})
    await closeDemo?.().catch(() => {})
    await store.close().catch(() => {})
    throw err
  }

  const reload = (trigger: 'SIGHUP' | 'file change'): void => {
    const text = readText(configPath)
    if (trigger === 'file change' && text === loadedText) return
    loadedText = text
    try {
      // The text just compared is the one loaded: a write landing in between cannot slip past.
      const next = text === null ? loadConfig(configPath, env) : parseConfigText(text, env, configPath, fileOptions(configPath))
      for (const apply of reloaders) apply(next)
      config = next
      logger.info({ trigger, servers: next.servers.length }, 'config reloaded')
    } catch (err) {
      logger.error({ trigger, err: (err as Error).message }, 'config reload rejected; keeping the running config')
    }
  }
  process.on('SIGHUP', () => { reload('SIGHUP') })
  stopWatching = watchConfigDir(configPath, () => { reload('file change') }, err => { logger.warn({ err: err.message }, 'config file watch stopped') }).close
  // A change made while the apps were starting came before the watch: caught here. Only then is
  // the process announced, so whoever waits for these lines may change the file at once.
  reload('file change')
  for (const line of ready) io.out(line)

  // Runs until a signal: close-with-grace exits the process when shutdown completes.
  return await new Promise<number>(() => {})
}
