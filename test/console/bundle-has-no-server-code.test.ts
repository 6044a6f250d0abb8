// The console bundle carries no server code. It reads the admin API's wire types
// (admin-api/schemas.ts) with `import type`, which the build erases, and shares with the services
// at runtime the access rule (core/access.ts), the per-tool scope rule (core/tool-scope.ts: the
// same validation of a key's scopes in the browser) and the range of a key's limits
// (core/limits.ts): allowed only because those modules load nothing themselves (type imports
// only). A runtime import of anything else outside console/src would pull TypeBox, Fastify or
// Node built-ins into the browser bundle.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'tap'
import { resolveImport, ROOT, runtimeSpecifiers, sourceFiles } from '../helpers/import-graph.ts'

/** Modules outside console/src that the console may load at runtime. */
const SHARED_WITH_CONSOLE = new Set(['core/access.ts', 'core/tool-scope.ts', 'core/limits.ts'])

test('the console loads only its own modules and the shared ones, and those load nothing', async t => {
  const outside = new Map<string, string>()
  for (const file of sourceFiles('console/src')) {
    for (const spec of runtimeSpecifiers(readFileSync(join(ROOT, file), 'utf8'))) {
      if (!spec.startsWith('./') && !spec.startsWith('../')) continue
      const target = resolveImport(file, spec)
      if (!target.startsWith('console/src/')) outside.set(target, file)
    }
  }
  t.ok(outside.has('core/access.ts'), 'the console uses the one access rule (core/access.ts)')
  t.ok(outside.has('core/tool-scope.ts'), 'the one scope rule (core/tool-scope.ts)')
  t.ok(outside.has('core/limits.ts'), 'and the one range of a key\'s limits (core/limits.ts)')
  for (const [target, importer] of outside) {
    t.ok(SHARED_WITH_CONSOLE.has(target), `${importer} loads ${target} at runtime${SHARED_WITH_CONSOLE.has(target) ? '' : ': server code in the browser bundle (use `import type`, or share a module that loads nothing)'}`)
  }
  for (const shared of SHARED_WITH_CONSOLE) {
    t.same(runtimeSpecifiers(readFileSync(join(ROOT, shared), 'utf8')), [], `${shared} has type imports only, so it brings nothing into the bundle`)
  }
})
