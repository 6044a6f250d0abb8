// Expected refusals (bad key, rate limited, overloaded, out of scope…) are answers, not faults:
// they are created once per refused request, so they capture no stack trace; faults keep theirs.
import t from 'tap'
import { errors, type McpgateErrorName } from '../../core/errors.ts'

const REFUSALS: McpgateErrorName[] = [
  'KeyMissing', 'KeyMalformed', 'KeyInvalid', 'KeyExpired', 'OwnerDisabled',
  'OriginForbidden', 'OAuthNotEnabled', 'SessionNotFound',
  'ServerIdInvalid', 'ServerNotFound', 'RouteNotFound', 'PathInvalid',
  'RateLimited', 'Overloaded', 'StoreUnavailable', 'UpstreamBusy'
]

t.test('refusals capture no stack; status, code and message are intact', async t => {
  for (const name of REFUSALS) {
    const e = new errors[name]('x', 'y')
    t.equal(e.stack, undefined, `${name}: no stack captured`)
    t.ok(e instanceof Error, `${name} is still an Error`)
    t.match(e.code, /^MCPGATE_/)
    t.ok(e.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 600, `${name}: status ${e.statusCode}`)
    t.ok(e.message.length > 0, `${name}: message`)
  }
})

t.test('faults keep their stack (they are logged with it)', async t => {
  for (const name of ['Internal', 'UpstreamUnreachable', 'UpstreamTimeout'] as const) {
    t.match(new errors[name]('x').stack, /\n\s+at /, `${name} has a stack`)
  }
})
