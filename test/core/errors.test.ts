// Every error is declared once with a unique, documented MCPGATE_* code.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { errors } from '../../core/errors.ts'

t.test('codes are unique, prefixed, and carry an HTTP status', async t => {
  const codes = Object.values(errors).map(E => new E('x', 'y').code)
  t.equal(new Set(codes).size, codes.length, 'no duplicate codes')
  for (const E of Object.values(errors)) {
    const e = new E('x', 'y')
    t.match(e.code, /^MCPGATE_[A-Z_]+$/)
    t.ok(e.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 600, `${e.code} has a 4xx/5xx status`)
  }
})

t.test('every code is documented in README.md', async t => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  for (const E of Object.values(errors)) {
    const code = new E('x', 'y').code
    t.ok(readme.includes(code), `${code} documented`)
  }
})
