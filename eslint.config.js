// Lint: the fastify family's neostandard, TypeScript-aware.
import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['node_modules/**', 'dist/**', 'bench/.tmp/**', 'bench/.scratch*/**', 'console/dist/**', 'test-artifacts/**', '.tap/**'] }),
  // Config files use `${VAR}` interpolation on purpose; strings containing it are not mistakes.
  { rules: { 'no-template-curly-in-string': 'off' } }
]
