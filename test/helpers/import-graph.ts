// Which of our modules load which at runtime, read from the sources (no bundler, no dependency):
// test/core/no-import-cycles.test.ts and test/console/bundle-has-no-server-code.test.ts use it.
// `import type` (and `import { type A }` with nothing else) is erased at build time, so it is no
// edge; static, side-effect, re-export and dynamic `import('…')` edges all are.
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** Module path relative to ROOT, with `/` → the modules it loads at runtime (in the scanned set). */
export type Graph = Map<string, Set<string>>

/** Build output and scratch copies, not sources. */
const SKIPPED_DIRS = new Set(['node_modules', 'dist', '.tmp'])

/** The `.ts` sources under `dir` (relative to ROOT), `/`-separated. */
export function sourceFiles (dir: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`
    if (entry.isDirectory()) {
      if (!SKIPPED_DIRS.has(entry.name) && !entry.name.startsWith('.scratch')) out.push(...sourceFiles(path))
    } else if (entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
      out.push(path)
    }
  }
  return out
}

/** True for `import type …`, `export type …` and `import { type A, type B } from`. */
function typeOnly (clause: string): boolean {
  const c = clause.trim()
  if (/^type\s/.test(c)) return true
  const braces = /^\{([^}]*)\}$/.exec(c)
  if (braces === null) return false
  const names = (braces[1] ?? '').split(',').map(s => s.trim()).filter(s => s !== '')
  return names.length > 0 && names.every(n => /^type\s/.test(n))
}

/** Every specifier a module loads at runtime: relative paths and packages alike. */
export function runtimeSpecifiers (source: string): string[] {
  // Comment lines only: an import is never inside one in our sources, and stripping `//` anywhere
  // would cut URLs in strings.
  const code = source.split('\n').filter(line => !/^\s*(\/\/|\/\*|\*)/.test(line)).join('\n')
  const out: string[] = []
  for (const m of code.matchAll(/^\s*(import|export)\s+([^'";]*?)\s+from\s+['"]([^'"]+)['"]/gm)) {
    if (!typeOnly(m[2] ?? '')) out.push(m[3] ?? '')
  }
  for (const m of code.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)) out.push(m[1] ?? '')
  for (const m of code.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1] ?? '')
  return out
}

/** The relative specifiers a module loads at runtime. */
export function runtimeImports (source: string): string[] {
  return runtimeSpecifiers(source).filter(s => s.startsWith('./') || s.startsWith('../'))
}

/** `spec` imported by `file`, as a ROOT-relative path. */
export function resolveImport (file: string, spec: string): string {
  return relative(ROOT, resolve(ROOT, dirname(file), spec.replace(/\.js$/, '.ts'))).split(sep).join('/')
}

/** The runtime import graph of the `.ts` sources under `dirs`; edges leaving them are dropped. */
export function importGraph (dirs: readonly string[]): Graph {
  const files = dirs.flatMap(sourceFiles)
  const known = new Set(files)
  const graph: Graph = new Map()
  for (const file of files) {
    const edges = new Set<string>()
    for (const spec of runtimeImports(readFileSync(join(ROOT, file), 'utf8'))) {
      const target = resolveImport(file, spec)
      if (known.has(target)) edges.add(target)
    }
    graph.set(file, edges)
  }
  return graph
}

/** Strongly connected components with more than one module, or a module importing itself (Tarjan). */
export function cycles (graph: Graph): string[][] {
  let next = 0
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const found: string[][] = []
  function visit (v: string): void {
    index.set(v, next)
    low.set(v, next)
    next++
    stack.push(v)
    onStack.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number))
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) as number, index.get(w) as number))
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = []
      let w: string
      do {
        w = stack.pop() as string
        onStack.delete(w)
        component.push(w)
      } while (w !== v)
      if (component.length > 1 || graph.get(v)?.has(v) === true) found.push(component.sort())
    }
  }
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v)
  return found
}

/** One import path around a component, for a message: `a.ts → b.ts → a.ts`. */
export function describeCycle (graph: Graph, component: readonly string[]): string {
  const members = new Set(component)
  const start = component[0] as string
  const path = [start]
  const seen = new Set([start])
  let at = start
  for (;;) {
    const targets = [...(graph.get(at) ?? [])].filter(w => members.has(w)).sort()
    const back = targets.find(w => w === start)
    const onward = targets.find(w => !seen.has(w))
    if (back !== undefined && (onward === undefined || path.length === component.length)) {
      const also = component.filter(m => !seen.has(m))
      return [...path, start].join(' → ') + (also.length === 0 ? '' : ` (the same knot holds ${also.join(', ')})`)
    }
    if (onward === undefined) return `${component.join(', ')} (import each other)`
    path.push(onward)
    seen.add(onward)
    at = onward
  }
}
