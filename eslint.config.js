// Lint: the fastify family's neostandard, TypeScript-aware.
import neostandard from 'neostandard'

export default neostandard({ ts: true, ignores: ['node_modules/**', 'dist/**', 'console/dist/**', 'test-artifacts/**', '.tap/**'] })
