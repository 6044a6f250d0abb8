// Issue 28, "Compose and deploy": docker-compose.yml passes the compose-spec schema and dclint's
// rules (dclint runs without a Docker engine), and holds what README's "Deploy" relies on: the
// config file is mounted with its directory (an edit reloads), the admin token arrives as a Docker
// secret read through MCPGATE_ADMIN_TOKEN_FILE (never an environment value), mcpgate's services stop
// within their stop_grace_period, and each health check passes against the service's own command
// run here as a plain process — gateway and admin API on the compose config with a real Redis.
import t, { type Test } from 'tap'
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { parse } from 'yaml'
import { SHUTDOWN_MARGIN_MS } from '../../cli/serve.ts'
import { loadConfigFile } from '../../config/load.ts'
import { testRedis, tempDir } from '../helpers/stores.ts'
import { BIN, freePort } from '../cli/run-cli.ts'

const root = fileURLToPath(new URL('../../', import.meta.url))
const exec = promisify(execFile)

interface Service {
  command?: string[]
  environment?: Record<string, string>
  volumes?: string[]
  secrets?: string[]
  healthcheck?: { test: string[] }
  stop_grace_period?: string
  depends_on?: Record<string, { condition: string }>
}
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8')) as { services: Record<string, Service>, secrets: Record<string, { environment?: string, file?: string }> }
const mcpgateServices = ['gateway', 'admin'] as const

/** `20s`, `1m30s`, `500ms` → ms (compose's duration format). */
function durationMs (value: string): number {
  let ms = 0
  for (const m of value.matchAll(/(\d+)(ms|s|m|h)/g)) ms += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h']
  return ms
}

/** The config file a service reads, here: its MCPGATE_CONFIG under the mounted ./config directory. */
function configFileOf (service: Service): string {
  const inContainer = service.environment?.MCPGATE_CONFIG ?? ''
  const mount = (service.volumes ?? []).map(v => v.split(':')).find(([, target]) => inContainer.startsWith(`${target ?? ''}/`))
  return mount === undefined ? '' : join(root, mount[0] ?? '', inContainer.slice((mount[1] ?? '').length + 1))
}

t.test('dclint: the compose-spec schema and every rule, no warning', async t => {
  const bin = join(root, 'node_modules', 'dclint', 'bin', 'dclint.cjs')
  const { stdout } = await exec(process.execPath, [bin, join(root, 'docker-compose.yml'), '--formatter', 'json', '--max-warnings', '0'])
  const messages = (JSON.parse(stdout) as Array<{ messages: Array<{ rule: string, message: string }> }>).flatMap(f => f.messages)
  t.same(messages.map(m => `${m.rule}: ${m.message}`), [])
})

t.test('the config is mounted with its directory and names the file the services read', async t => {
  for (const name of mcpgateServices) {
    const service = compose.services[name] ?? {}
    const file = configFileOf(service)
    t.ok(file !== '' && existsSync(file), `${name}: MCPGATE_CONFIG is a file of a mounted directory (${file})`)
    t.ok((service.volumes ?? []).every(v => !/\.ya?ml:/.test(v)), `${name}: no single-file mount (a save by rename would not reach the container)`)
    t.ok((service.volumes ?? []).some(v => v.endsWith(':ro')), `${name}: read-only`)
  }
})

t.test('secrets arrive as files, through _FILE variables', async t => {
  for (const [name, service] of Object.entries(compose.services)) {
    for (const variable of Object.keys(service.environment ?? {})) {
      t.notOk(/TOKEN|PASSWORD|SECRET/.test(variable) && !variable.endsWith('_FILE'), `${name}: ${variable} carries no secret value`)
    }
  }
  const admin = compose.services.admin ?? {}
  const path = admin.environment?.MCPGATE_ADMIN_TOKEN_FILE ?? ''
  const secret = /^\/run\/secrets\/(\S+)$/.exec(path)?.[1] ?? ''
  t.ok(admin.secrets?.includes(secret), `admin: MCPGATE_ADMIN_TOKEN_FILE is the secret ${secret} it is given`)
  t.ok(compose.secrets[secret] !== undefined, 'defined at the top level')

  // What the admin service does with it: its config, its environment, the secret as Docker writes it.
  const dir = tempDir(t)
  const tokenFile = join(dir, secret)
  writeFileSync(tokenFile, 'compose-admin-token-0123456789\n')
  const config = loadConfigFile(configFileOf(admin), { ...admin.environment, MCPGATE_ADMIN_TOKEN_FILE: tokenFile })
  t.equal(config.admin.token, 'compose-admin-token-0123456789', 'read from the file, newline trimmed')
  t.equal(config.store.type, 'redis')
})

t.test('stop_grace_period outlasts the drain', async t => {
  for (const name of mcpgateServices) {
    const service = compose.services[name] ?? {}
    const config = loadConfigFile(configFileOf(service), { MCPGATE_ADMIN_TOKEN: 'x'.repeat(16) })
    const needed = config.gateway.shutdownGraceMs + SHUTDOWN_MARGIN_MS
    t.ok(durationMs(service.stop_grace_period ?? '10s') > needed, `${name}: ${service.stop_grace_period ?? 'default 10s'} > ${needed} ms`)
  }
})

/** Runs a health check's exec-form command here; 0 when it passes. */
async function runCheck (test: string[], env: Record<string, string>): Promise<number> {
  if (test[0] !== 'CMD') throw new Error(`not an exec-form health check: ${test.join(' ')}`)
  const [cmd, ...args] = test.slice(1)
  return await exec(cmd === 'node' ? process.execPath : cmd ?? '', args, { env: { PATH: process.env.PATH ?? '', ...env } }).then(() => 0, (err: { code?: number }) => err.code ?? 1)
}

/** `mcpgate <command>` as the service runs it, until it prints `ready`; SIGTERM in teardown (exit 0 checked). */
async function startService (tt: Test, args: string[], env: Record<string, string>, ready: string) {
  const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = once(child, 'exit') as Promise<[number | null]>
  tt.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let out = ''
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready within 30 s:\n${out}`)), 30_000)
    const look = (d: Buffer) => { out += d.toString(); if (out.includes(ready)) { clearTimeout(timer); resolve() } }
    child.stdout.on('data', look)
    child.stderr.on('data', look)
    exited.then(([code]) => { clearTimeout(timer); reject(new Error(`exited early (${code}):\n${out}`)) }, reject)
  })
  return { stop: async () => { child.kill('SIGTERM'); return (await exited)[0] } }
}

t.test('health checks: each passes against its service\'s command run here', async t => {
  for (const name of ['gateway', 'admin', 'upstream', 'redis']) t.ok(compose.services[name]?.healthcheck, `${name} has a health check`)
  t.equal(compose.services.proxy?.depends_on?.gateway?.condition, 'service_healthy', 'the proxy waits for a healthy gateway')

  const redis = await testRedis(t)
  const dir = tempDir(t)
  const tokenFile = join(dir, 'admin_token')
  writeFileSync(tokenFile, 'compose-admin-token-0123456789\n')
  for (const name of mcpgateServices) {
    const service = compose.services[name] ?? {}
    const port = String(await freePort())
    // The service's environment, its config file as mounted, Redis and the port here, loopback only.
    const env: Record<string, string> = {
      ...service.environment,
      MCPGATE_CONFIG: configFileOf(service),
      MCPGATE_STORE_URL: redis.url,
      ...(name === 'admin' ? { MCPGATE_ADMIN_TOKEN_FILE: tokenFile } : {}),
      [name === 'gateway' ? 'MCPGATE_GATEWAY_PORT' : 'MCPGATE_ADMIN_PORT']: port,
      [name === 'gateway' ? 'MCPGATE_GATEWAY_HOST' : 'MCPGATE_ADMIN_HOST']: '127.0.0.1'
    }
    const running = await startService(t, service.command ?? [], env, 'listening on')
    t.equal(await runCheck(service.healthcheck?.test ?? [], env), 0, `${name}: its health check passes`)
    t.equal(await running.stop(), 0, `${name}: SIGTERM exits 0`)
    t.not(await runCheck(service.healthcheck?.test ?? [], env), 0, `${name}: and fails once it is gone`)
  }

  const upstream = compose.services.upstream ?? {}
  const port = String(await freePort())
  const args = (upstream.command ?? []).map(a => a === '0.0.0.0' ? '127.0.0.1' : a === '9300' ? port : a)
  const demo = await startService(t, args, {}, 'demo MCP server listening')
  t.equal(await runCheck((upstream.healthcheck?.test ?? []).map(a => a.replace('9300', port)), {}), 0, 'upstream: its health check passes')
  t.equal(await demo.stop(), 0, 'upstream: SIGTERM exits 0')
})
