#!/usr/bin/env node
// The `mcpgate` command. Runs the compiled CLI (dist/, `npm run build`; `npm start` builds it) when
// it is at least as new as every TypeScript source; otherwise — a fresh clone, or sources edited
// since the last build — loads the sources through tsx, which costs memory (a loader thread, ~35 MB)
// and CPU on every request (bench/README.md). MCPGATE_FROM_SOURCE=1 always uses the sources.
import { readdirSync, statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const SOURCE_DIRS = ['core', 'gateway', 'admin-api', 'config', 'cli']

function mtimeOf (path) {
  try {
    return statSync(path).mtimeMs
  } catch {
    return null
  }
}

/** True when dist/cli/main.js exists and no source file changed after it was written. */
function compiledIsCurrent () {
  const built = mtimeOf(`${root}dist/cli/main.js`)
  if (built === null) return false
  for (const dir of SOURCE_DIRS) {
    for (const entry of readdirSync(`${root}${dir}`, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith('.ts')) continue
      if ((mtimeOf(`${entry.parentPath ?? entry.path}/${entry.name}`) ?? Infinity) > built) return false
    }
  }
  return true
}

async function fromSource () {
  const { register } = await import('tsx/esm/api')
  register()
  return import('../cli/main.ts')
}

let cli
if (process.env.MCPGATE_FROM_SOURCE !== '1' && compiledIsCurrent()) {
  // A build being written right now can be incomplete: then the sources it is built from.
  cli = await import('../dist/cli/main.js').catch(fromSource)
} else {
  cli = await fromSource()
}
process.exitCode = await cli.main(process.argv.slice(2), process.env)
