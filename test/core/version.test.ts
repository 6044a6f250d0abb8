// core/version.ts says the version package.json says.
import { readFileSync } from 'node:fs'
import t from 'tap'
import { VERSION } from '../../core/version.ts'

t.test('VERSION is package.json\'s version', async t => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  t.equal(VERSION, pkg.version)
})
