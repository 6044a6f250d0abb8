// The admin API's per-IP budget of failed authentications: once an IP has sent
// admin.authFailuresPerIp wrong credentials (bad admin tokens, rejected JWTs) in a window, every
// /api request from it gets 429 MCPGATE_RATE_LIMITED + Retry-After without being authenticated,
// the right token included, until the window (on the injected clock) ends. No credentials, 403s
// and 503s spend nothing; other IPs are unaffected (with admin.trustProxy, X-Forwarded-For decides).
import { request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import type { Test } from 'tap'
import { pino } from 'pino'
import { adminLoggerOptions, buildAdmin } from '../../admin-api/app.ts'
import type { Config } from '../../config/schema.ts'
import { ManualClock } from '../../core/clock.ts'
import { ADMIN_TOKEN, testConfig } from '../helpers/admin.ts'
import { startOidcIssuer } from '../helpers/oidc.ts'
import { sqliteStore } from '../helpers/stores.ts'

interface Answer {
  status: number
  code: string | undefined
  retryAfter: string | undefined
  wwwAuthenticate: string | undefined
}

/** Starts the admin API on 127.0.0.1:0 (real HTTP, real SQLite) with a manual clock and a captured log. */
async function start (t: Test, config: Readonly<Config>) {
  // JWTs are signed with wall time, so the manual clock starts there.
  const clock = new ManualClock(Date.now())
  const store = await sqliteStore(t, { clock })
  const lines: string[] = []
  const logger = pino({ ...adminLoggerOptions(config), level: 'debug' }, { write: (line: string) => { lines.push(line) } })
  const app = await buildAdmin(config, { store, clock, logger, console: false })
  t.teardown(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as AddressInfo).port

  /** GET `path` from the local address `from` (all of 127/8 is loopback on Linux: a second client IP). */
  function send (path: string, headers: Record<string, string>, from = '127.0.0.1'): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path, headers, localAddress: from, agent: false }, res => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => { body += chunk })
        res.on('end', () => {
          const header = (name: string) => res.headers[name] as string | undefined
          resolve({ status: res.statusCode ?? 0, code: (JSON.parse(body) as { code?: string }).code, retryAfter: header('retry-after'), wwwAuthenticate: header('www-authenticate') })
        })
        res.on('error', reject)
      })
      req.on('error', reject)
      req.end()
    })
  }
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
  const audits = (event: string) => lines.map(l => JSON.parse(l) as Record<string, any>).filter(l => l.audit === true && l.event === event)
  return { clock, store, send, bearer, lines, audits }
}

const LIMITED = { status: 429, code: 'MCPGATE_RATE_LIMITED', wwwAuthenticate: undefined }

t.test('wrong admin tokens spend the IP\'s budget; then 429 for every credential until the window ends', async t => {
  const idp = await startOidcIssuer()
  t.teardown(() => idp.close())
  const { clock, store, send, bearer, lines, audits } = await start(t, testConfig({ admin: { authFailuresPerIp: 3, authFailureWindowMs: 60_000 } }, idp))
  const disabled = await store.createUser({ email: 'off@example.com', name: 'Off', role: 'user', groups: [] })
  await store.updateUser(disabled.id, { disabled: true })

  // Refusals that are not wrong credentials, several times the budget: none of them counts.
  for (let i = 0; i < 4; i++) {
    t.equal((await send('/api/me', {})).code, 'MCPGATE_UNAUTHENTICATED', `no credentials ${i}`)
    t.equal((await send('/api/me', { authorization: 'Basic dXNlcjpwYXNz' })).code, 'MCPGATE_UNAUTHENTICATED', `not a bearer credential ${i}`)
    t.equal((await send('/api/users', bearer(await idp.sign({ email: 'user@example.com' })))).status, 403, `a user on an admin route ${i}`)
    t.equal((await send('/api/me', bearer(await idp.sign({ email: 'off@example.com' })))).code, 'MCPGATE_USER_DISABLED', `a disabled user ${i}`)
  }

  const wrong = ['wrong-admin-token-000000000001', 'wrong-admin-token-000000000002', 'wrong-admin-token-000000000003', 'wrong-admin-token-000000000004']
  for (const token of wrong.slice(0, 3)) {
    const a = await send('/api/me', bearer(token))
    t.same([a.status, a.code], [401, 'MCPGATE_TOKEN_INVALID'], 'a wrong admin token within the budget: 401')
  }
  t.match(await send('/api/me', bearer(wrong[3] as string)), { ...LIMITED, retryAfter: '60' }, 'the 4th: 429, Retry-After to the end of the window, no challenge')
  t.match(await send('/api/me', bearer(ADMIN_TOKEN)), { ...LIMITED, retryAfter: '60' }, 'the right admin token too')
  // Had the authenticator run, this first sign-in would have created the user.
  t.match(await send('/api/me', bearer(await idp.sign({ email: 'new@example.com' }))), LIMITED, 'a valid JWT too')
  t.equal(await store.getUserByEmail('new@example.com'), null, 'the authenticator did not run: no user provisioned')
  t.match(await send('/api/me', {}), LIMITED, 'and a request without credentials')
  t.equal((await send('/healthz', {})).status, 200, 'outside /api nothing is limited')

  t.equal((await send('/api/me', bearer(ADMIN_TOKEN), '127.0.0.2')).status, 200, 'another IP is unaffected')
  t.equal((await send('/api/me', bearer(wrong[0] as string), '127.0.0.2')).status, 401, 'and has its own budget')

  clock.advance(45_000)
  t.match(await send('/api/me', bearer(ADMIN_TOKEN)), { ...LIMITED, retryAfter: '15' }, 'Retry-After follows the clock')
  clock.advance(14_999)
  t.match(await send('/api/me', bearer(ADMIN_TOKEN)), { ...LIMITED, retryAfter: '1' }, 'a millisecond before the end')
  clock.advance(1)
  t.equal((await send('/api/me', bearer(ADMIN_TOKEN))).status, 200, 'window over: the right token works')
  t.equal((await send('/api/me', bearer(wrong[0] as string))).status, 401, 'and a new window has the whole budget')

  const limited = audits('admin.rate_limited')
  t.equal(limited.length, 6, 'every 429 is audited')
  for (const e of limited) {
    t.equal(e.ip, '127.0.0.1')
    t.equal(e.actor, null)
    t.equal(e.level, 40, 'as a warning, like a failed authentication')
  }
  t.equal(audits('admin.auth_failed').filter(e => e.ip === '127.0.0.1').length, 8 + 4 + 3 + 1, 'the refusals before it are audited as failed authentications')
  const log = lines.join('\n')
  for (const token of [ADMIN_TOKEN, ...wrong]) t.notOk(log.includes(token), 'no token in the log')
})

t.test('rejected JWTs spend the budget', async t => {
  const idp = await startOidcIssuer()
  t.teardown(() => idp.close())
  const { send, bearer } = await start(t, testConfig({ admin: { authFailuresPerIp: 3 } }, idp))
  const who = { email: 'eve@example.com' }
  const rejected = [
    await idp.sign(who, { expiresIn: -3600 }),
    await idp.sign(who, { audience: 'another-api' }),
    await idp.signWithUnpublishedKey(who, { kid: idp.currentKid })
  ]
  for (const token of rejected) t.equal((await send('/api/me', bearer(token))).code, 'MCPGATE_TOKEN_INVALID')
  t.match(await send('/api/me', bearer(await idp.sign(who))), { ...LIMITED, retryAfter: '60' }, 'default window 60 s; a valid JWT is refused too')
})

t.test('503s (identity provider unreachable) spend nothing', async t => {
  const idp = await startOidcIssuer()
  t.teardown(() => idp.close())
  // An issuer nobody answers for, found through discovery: every JWT is a 503.
  const oidc = { issuer: 'http://127.0.0.1:9/', audience: idp.audience }
  const { send, bearer } = await start(t, testConfig({ admin: { authFailuresPerIp: 2, oidc } }))
  for (let i = 0; i < 4; i++) {
    const a = await send('/api/me', bearer(await idp.sign({ email: 'u@example.com' }, { issuer: oidc.issuer })))
    t.same([a.status, a.code], [503, 'MCPGATE_IDP_UNAVAILABLE'], `IdP down ${i}`)
  }
  t.equal((await send('/api/me', bearer('wrong-admin-token-000000000001'))).status, 401, 'the budget is whole')
  t.equal((await send('/api/me', bearer('wrong-admin-token-000000000002'))).status, 401)
  t.equal((await send('/api/me', bearer(ADMIN_TOKEN))).status, 429)
})

t.test('concurrent wrong admin tokens cannot overrun the budget', async t => {
  // Without OIDC a wrong token fails without I/O, so it is counted before the next request is read.
  const { send, bearer } = await start(t, testConfig({ admin: { authFailuresPerIp: 3 } }))
  const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => send('/api/me', bearer(`wrong-admin-token-${String(i).padStart(12, '0')}`))))
  t.same(answers.map(a => a.status).sort(), [401, 401, 401, 429, 429, 429, 429, 429, 429, 429, 429, 429])
})

t.test('with admin.trustProxy the budget follows X-Forwarded-For, not the proxy\'s address', async t => {
  const { send, bearer, audits } = await start(t, testConfig({ admin: { authFailuresPerIp: 2, trustProxy: true } }))
  const via = (client: string, token: string) => send('/api/me', { ...bearer(token), 'x-forwarded-for': client })
  t.equal((await via('203.0.113.7', 'wrong-admin-token-000000000001')).status, 401)
  t.equal((await via('203.0.113.7', 'wrong-admin-token-000000000002')).status, 401)
  t.match(await via('203.0.113.7', ADMIN_TOKEN), LIMITED, 'the client behind the proxy spent its budget')
  t.equal((await via('203.0.113.8', ADMIN_TOKEN)).status, 200, 'another client behind the same proxy did not')
  t.same(audits('admin.rate_limited').map(e => e.ip), ['203.0.113.7'])
})
