// README's configuration and error references are generated from the schema and the error
// catalogue; this fails when someone changes either without running `npm run config-reference`.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { renderErrors, renderReference, syncReadme } from '../../scripts/config-reference.ts'

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')

t.test('README config reference matches config/schema.ts', async t => {
  t.ok(readme.includes(renderReference()), 'config reference in sync (run npm run config-reference)')
  t.match(renderReference(), /`servers\[\]\.url` \| string \| required/)
})

t.test('README error reference matches core/errors.ts', async t => {
  t.ok(readme.includes(renderErrors()), 'error reference in sync (run npm run config-reference)')
  t.equal(syncReadme(readme), readme)
})
