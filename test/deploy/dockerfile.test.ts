// Issue 28, "Compose and deploy": the Dockerfile passes a Dockerfile linter (dockerfile-utils, the
// VS Code Dockerfile language service's checks; no Docker engine needed), and the image's default
// command — its last stage's ENTRYPOINT + CMD with its ENV and WORKDIR, read from the Dockerfile —
// works as a plain process here: it starts with nothing else (no Redis), the gateway and the admin
// API answer, the Dockerfile's HEALTHCHECK command passes against it, and SIGTERM exits 0.
import t from 'tap'
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { loadConfigFile } from '../../config/load.ts'
import { tempDir } from '../helpers/stores.ts'
import { freePort } from '../cli/run-cli.ts'

const root = fileURLToPath(new URL('../../', import.meta.url))
const exec = promisify(execFile)

interface Instruction { keyword: string, args: string }

/** The Dockerfile's instructions (continuation lines joined, comments dropped), split into stages. */
function stages (text: string): Instruction[][] {
  const lines = text.replace(/\\\n(\s*#.*\n)*/g, ' ').split('\n').map(l => l.trim()).filter(l => l !== '' && !l.startsWith('#'))
  const out: Instruction[][] = []
  for (const line of lines) {
    const m = /^(\S+)\s+(.*)$/.exec(line)
    if (m === null) continue
    const instruction = { keyword: (m[1] ?? '').toUpperCase(), args: m[2] ?? '' }
    if (instruction.keyword === 'FROM') out.push([])
    out[out.length - 1]?.push(instruction)
  }
  return out
}

/** An exec-form (JSON array) argument list; the shell form is refused: it would need a shell as PID 1. */
function execForm (args: string): string[] {
  const parsed = JSON.parse(args) as unknown
  if (!Array.isArray(parsed) || !parsed.every(a => typeof a === 'string')) throw new Error(`not an exec-form array: ${args}`)
  return parsed
}

/** ENV k=v k2=v2 (the only form used here). */
function envOf (args: string): Record<string, string> {
  return Object.fromEntries([...args.matchAll(/(\w+)=(\S+)/g)].map(m => [m[1] ?? '', m[2] ?? '']))
}

const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8')
const runtime = stages(dockerfile).at(-1) ?? []
const last = (keyword: string) => runtime.filter(i => i.keyword === keyword).at(-1)?.args

t.test('dockerfile-utils finds no problem in the Dockerfile', async t => {
  const bin = join(root, 'node_modules', 'dockerfile-utils', 'bin', 'dockerfile-utils')
  const { stdout, stderr } = await exec(process.execPath, [bin, 'lint', join(root, 'Dockerfile')])
  t.equal(stdout + stderr, '', 'no diagnostics')
})

t.test('.dockerignore keeps secrets, state and local builds out of the image', async t => {
  const ignored = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n').map(l => l.trim())
  for (const entry of ['.env', 'secrets', 'data', 'node_modules', '.git']) t.ok(ignored.includes(entry), `${entry} is ignored`)
})

t.test('the image\'s default command runs as a plain process: no Redis, healthy, SIGTERM exits 0', async t => {
  const workdir = last('WORKDIR') ?? ''
  const env = Object.assign({}, ...runtime.filter(i => i.keyword === 'ENV').map(i => envOf(i.args))) as Record<string, string>
  const command = [...execForm(last('ENTRYPOINT') ?? '[]'), ...execForm(last('CMD') ?? '[]')]
  t.equal(workdir, '/app')
  t.equal(command[0], 'node', 'node is PID 1: it gets the SIGTERM of `docker stop` itself')
  t.ok(env.MCPGATE_CONFIG?.startsWith(`${workdir}/`), 'the config is in the image')
  const healthcheck = /^(?:--\S+\s+)*CMD\s+(\[.*\])$/.exec(last('HEALTHCHECK') ?? '')?.[1]
  t.ok(healthcheck, 'the image has a HEALTHCHECK in exec form')

  // The image's /app here: the repository's bin/ (node follows the link to the real file, so the
  // code and node_modules are the repository's), the config copied, data/ fresh. The demo upstream's
  // port, fixed in the config, becomes a free one: this machine is shared.
  const app = tempDir(t)
  symlinkSync(join(root, 'bin'), join(app, 'bin'))
  mkdirSync(join(app, 'config'))
  const configFile = (env.MCPGATE_CONFIG ?? '').replace(`${workdir}/`, `${app}/`)
  copyFileSync(join(root, (env.MCPGATE_CONFIG ?? '').slice(workdir.length + 1)), configFile)
  const demoPort = await freePort()
  writeFileSync(configFile, readFileSync(configFile, 'utf8').replace(/127\.0\.0\.1:9300/g, `127.0.0.1:${demoPort}`) + 'hashing: { memoryCost: 1024, timeCost: 1 }\n')
  t.equal(loadConfigFile(configFile, {}).store.type, 'sqlite', '`docker run <image>` needs no Redis')

  const [gatewayPort, adminPort] = [await freePort(), await freePort()]
  // Loopback here instead of the container's 0.0.0.0: a test listens on nothing else.
  const processEnv = {
    PATH: process.env.PATH ?? '',
    ...env,
    MCPGATE_CONFIG: configFile,
    MCPGATE_GATEWAY_HOST: '127.0.0.1',
    MCPGATE_ADMIN_HOST: '127.0.0.1',
    MCPGATE_GATEWAY_PORT: String(gatewayPort),
    MCPGATE_ADMIN_PORT: String(adminPort)
  }
  const child = spawn(command[0] === 'node' ? process.execPath : command[0] ?? '', command.slice(1), { cwd: app, env: processEnv, stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let out = ''
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready within 30 s:\n${out}`)), 30_000)
    const look = (d: Buffer) => {
      out += d.toString()
      if (out.includes('Admin API and web console')) { clearTimeout(timer); resolve() }
    }
    child.stdout.on('data', look)
    child.stderr.on('data', look)
    exited.then(([code]) => { clearTimeout(timer); reject(new Error(`exited early (${code}):\n${out}`)) }, reject)
  })
  t.match(out, `http://127.0.0.1:${gatewayPort}/mcp-connect/demo`, 'the demo banner, with the gateway\'s address')

  for (const port of [gatewayPort, adminPort]) {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`)
    t.equal(res.status, 200, `:${port}/healthz`)
  }
  const check = execForm(healthcheck ?? '[]')
  const probe = await exec(check[0] === 'node' ? process.execPath : check[0] ?? '', check.slice(1), { env: processEnv }).then(() => 0, (err: { code?: number }) => err.code ?? 1)
  t.equal(probe, 0, 'the HEALTHCHECK command passes')

  child.kill('SIGTERM')
  const [code] = await exited
  t.equal(code, 0, 'SIGTERM: exit 0')
})
