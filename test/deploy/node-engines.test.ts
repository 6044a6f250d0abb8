// `npm ci` on the oldest Node that package.json's `engines` allows installs every locked package
// without an EBADENGINE warning, and README names that same minimum. npm warns when
// semver.satisfies(process.version, pkg.engines.node) is false (npm-install-checks); this test
// asks the same question of package-lock.json for the minimum version, so a dependency update
// that needs a newer Node fails here instead of on an operator's machine.
import t from 'tap'
import { execFile } from 'node:child_process'
import { copyFileSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { tempDir } from '../helpers/stores.ts'

interface Semver {
  satisfies: (version: string, range: string, options?: { includePrerelease?: boolean }) => boolean
  minVersion: (range: string) => { version: string } | null
}
// npm's own semver, in the tree through fastify; untyped here, so its two functions are declared.
const semver = createRequire(import.meta.url)('semver') as Semver

const root = new URL('../../', import.meta.url)
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { engines: { node: string } }
const lock = JSON.parse(readFileSync(new URL('package-lock.json', root), 'utf8')) as {
  packages: Record<string, { version?: string, dev?: boolean, engines?: { node?: string } | string[] }>
}
const minimum = semver.minVersion(pkg.engines.node)?.version ?? ''

t.test('every locked package supports the oldest Node that package.json allows', async t => {
  t.not(minimum, '', `engines.node "${pkg.engines.node}" has a minimum`)
  const refused: string[] = []
  for (const [path, entry] of Object.entries(lock.packages)) {
    const range = Array.isArray(entry.engines) ? undefined : entry.engines?.node
    if (path === '' || range === undefined) continue
    if (!semver.satisfies(minimum, range, { includePrerelease: true })) {
      refused.push(`${entry.dev === true ? 'dev' : 'production'} ${path.replace(/^.*node_modules\//, '')}@${entry.version ?? '?'} wants node ${range}`)
    }
  }
  t.same(refused, [], `npm ci on Node ${minimum} would print EBADENGINE for these`)
})

t.test(`npm ci on this machine's Node (${process.version}) prints no EBADENGINE`, async t => {
  // A dry run from the lock alone, offline: npm resolves and checks every package, installs nothing.
  const dir = tempDir(t)
  for (const f of ['package.json', 'package-lock.json']) copyFileSync(new URL(f, root), join(dir, f))
  const { stdout, stderr } = await promisify(execFile)('npm', ['ci', '--dry-run', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: dir, maxBuffer: 16 << 20 })
  const warnings = (stdout + stderr).split('\n').filter(l => l.includes('EBADENGINE') && l.includes('package:'))
  t.same(warnings, [], 'no package refuses this Node')
})

t.test('README states the same minimum Node version as package.json', async t => {
  const readme = readFileSync(new URL('README.md', root), 'utf8')
  const stated = [...readme.matchAll(/Node(?:\.js)? ≥ (\d+\.\d+(?:\.\d+)?)/g)].map(m => m[1])
  t.ok(stated.length > 0, 'README says which Node version it needs')
  for (const v of stated) t.equal(semver.minVersion(`>=${v ?? ''}`)?.version, minimum, `README's "Node.js ≥ ${v}" matches engines.node "${pkg.engines.node}"`)
})
