#!/usr/bin/env node
// The `mcpgate` command: loads the TypeScript sources through tsx (no build step needed) and runs the CLI.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('../cli/main.ts')
process.exitCode = await main(process.argv.slice(2), process.env)
