// No runtime import cycles between our modules. A cycle makes evaluation order decide whether a
// binding is initialised yet (a TDZ error, or `undefined` through a re-export), and it is how two
// modules that should share a third grow into each other: move what both need into its own
// module instead. `import type` is erased at build time and is ignored; static, side-effect,
// re-export and dynamic `import('./x.ts')` edges count (a lazy import still closes the loop).
import { test } from 'tap'
import { cycles, describeCycle, importGraph, runtimeImports, type Graph } from '../helpers/import-graph.ts'

const SCANNED = ['admin-api', 'cli', 'config', 'core', 'gateway', 'console/src', 'bench']

/**
 * Cycles known and owned by someone, each to be fixed and then removed from here: the test fails
 * when a listed cycle is gone, so an entry cannot outlive its cycle.
 */
const KNOWN_CYCLES_TO_FIX: readonly (readonly string[])[] = []

const sameMembers = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i])

test('the cycle finder names a cycle and ignores type-only imports', async t => {
  t.same(runtimeImports([
    "import { a } from './a.ts'",
    "import type { B } from './b.ts'",
    "import { type C, type D } from './c.ts'",
    "import { type E, e } from './e.ts'",
    "export { f } from './f.ts'",
    "export type { G } from './g.ts'",
    "import './h.ts'",
    "// import { i } from './i.ts'",
    "  const { j } = await import('./j.ts')",
    "import { k } from 'node:k'"
  ].join('\n')), ['./a.ts', './e.ts', './f.ts', './h.ts', './j.ts'])
  const graph: Graph = new Map([['a.ts', new Set(['b.ts'])], ['b.ts', new Set(['c.ts'])], ['c.ts', new Set(['a.ts'])], ['d.ts', new Set(['a.ts'])]])
  const found = cycles(graph)
  t.same(found, [['a.ts', 'b.ts', 'c.ts']])
  t.equal(describeCycle(graph, found[0] as string[]), 'a.ts → b.ts → c.ts → a.ts')
})

test('no runtime import cycles in the sources', async t => {
  const graph = importGraph(SCANNED)
  t.ok((graph.get('admin-api/app.ts')?.size ?? 0) > 0, 'the scan reads imports (admin-api/app.ts has some)')
  const found = cycles(graph)
  for (const component of found) {
    if (KNOWN_CYCLES_TO_FIX.some(known => sameMembers(known, component))) continue
    t.fail(`import cycle: ${describeCycle(graph, component)}`)
  }
  for (const known of KNOWN_CYCLES_TO_FIX) {
    t.ok(found.some(component => sameMembers(known, component)),
      `known cycle ${known.join(' ↔ ')} still there (once it is fixed, remove it from KNOWN_CYCLES_TO_FIX)`)
  }
})
