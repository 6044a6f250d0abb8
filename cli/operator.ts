// Operator commands (`mcpgate users …`, `mcpgate keys …`) working directly on the configured
// store through the admin API's key service — the same rules as the REST routes, no second copy.
import { existsSync } from 'node:fs'
import { configPath, loadConfig, parseCommandArgs, UsageError, type Io } from './command.ts'
import type { Env } from '../config/load.ts'
import { openStore } from '../core/store/open.ts'
import { systemClock, type Clock } from '../core/clock.ts'
import { createKeyService, type KeyService } from '../admin-api/key-service.ts'
import { errors } from '../core/errors.ts'
import type { UserView } from '../admin-api/schemas.ts'
import type { Role } from '../core/store/store.ts'
import { parseKeyScopes, SCOPE_KINDS, SERVER_ID_PATTERN, type KeyScopes, type ScopeKind } from '../core/tool-scope.ts'

const USERS_USAGE = `Usage:
  mcpgate users create --email E --name N [--role user|admin] [--groups a,b] [--config FILE]
  mcpgate users create --service --name N [--groups a,b] [--email E] [--config FILE]
                      (a service account: never signs in; give it keys with \`keys create --user <id>\`)
  mcpgate users list [--kind human|service] [--config FILE]
  mcpgate users delete <id|email> [--config FILE]     (deletes every key of the user too)`

const KEYS_USAGE = `Usage:
  mcpgate keys create --user <email|id> --name N --servers a,b|* [--expires <RFC3339|30d|12h|never>] [--description D]
                      [--scopes JSON] [--tools S:a,b*] [--prompts S:a,b] [--resources S:uri,uri*]
                      [--requests-per-minute N] [--tool-calls-per-day N] [--config FILE]
  mcpgate keys list [--user <email|id>] [--config FILE]
  mcpgate keys delete <id> [--config FILE]
  mcpgate keys rotate <id> [--overlap <0|30m|24h|7d>] [--config FILE]
                      (a new secret, the same key id; the old one works for --overlap, default
                      admin.rotationOverlapSeconds, never past the key's expiry)

Per-tool scopes (absent: the whole servers): --scopes takes the API's JSON, e.g.
  '{"github":{"tools":["search_*","get_issue"],"prompts":[]},"*":{"tools":["read_*"]}}'
--tools, --prompts and --resources (repeatable) add one list each: <server id or *>:<names or
* globs, comma-separated>; nothing after the colon allows none (e.g. --prompts github:).`

/** What `--expires` accepts, said with every problem about it. */
const EXPIRES_FORMS = 'an RFC 3339 date-time with a time zone (2027-06-30T00:00:00Z), a time from now (30d, 12h, 45m) or never'

/** `30d` / `12h` / `45m` from now, or an RFC 3339 string passed through for the service to validate. */
export function resolveExpiry (value: string | undefined, clock: Clock): string | null {
  if (value === undefined || value === '' || value === 'never') return null
  const m = /^(\d{1,5})([dhm])$/.exec(value)
  if (m === null) return value
  const unit = { d: 86_400_000, h: 3_600_000, m: 60_000 }[m[2] as 'd' | 'h' | 'm']
  return new Date(clock.now() + Number(m[1]) * unit).toISOString()
}

/** The flag that carries each field of the key service's input: its 400s are the operator's usage errors. */
const FLAG_OF_FIELD: Readonly<Record<string, string>> = {
  email: '--email',
  name: '--name',
  role: '--role',
  kind: '--kind',
  groups: '--groups',
  expiresAt: '--expires',
  mcpServerIds: '--servers',
  description: '--description',
  overlapSeconds: '--overlap',
  'limits.requestsPerMinute': '--requests-per-minute',
  'limits.toolCallsPerDay': '--tool-calls-per-day'
}

/**
 * The key service's ValidationFailed ("field: problem", a 400 in the API) as a usage error naming
 * the flag the value came from (exit 2); anything else — not found, taken, unreachable — stays a
 * refusal (exit 1).
 */
function asUsageError (err: unknown, flagForScope: (field: string) => string, expires: string | undefined): unknown {
  if (!(err instanceof errors.ValidationFailed)) return err
  const message = err.message
  const colon = message.indexOf(': ')
  const field = colon < 0 ? '' : message.slice(0, colon)
  const problem = message.slice(colon + 2)
  if (field.startsWith('scopes')) return new UsageError(`${flagForScope(field)}: ${message}`)
  const flag = FLAG_OF_FIELD[field]
  if (flag === undefined) return err
  if (field !== 'expiresAt') return new UsageError(`${flag}: ${problem}`)
  if (problem.startsWith('must be an RFC 3339')) return new UsageError(`--expires: "${expires ?? ''}" is not ${EXPIRES_FORMS}`)
  return new UsageError(`--expires: ${problem} (give ${EXPIRES_FORMS})`)
}

/** `--requests-per-minute` and `--tool-calls-per-day` as a key's `limits` (the service checks the numbers). */
export function limitFlags (perMinute: string | undefined, perDay: string | undefined): { limits?: { requestsPerMinute?: number, toolCallsPerDay?: number } } {
  const num = (flag: string, v: string): number => {
    if (!/^\d{1,9}$/.test(v)) throw new UsageError(`${flag}: "${v}" is not a whole number`)
    return Number(v)
  }
  if (perMinute === undefined && perDay === undefined) return {}
  return {
    limits: {
      ...(perMinute === undefined ? {} : { requestsPerMinute: num('--requests-per-minute', perMinute) }),
      ...(perDay === undefined ? {} : { toolCallsPerDay: num('--tool-calls-per-day', perDay) })
    }
  }
}

/** `--overlap`: `0`, or a count of seconds, minutes, hours or days (`90s`, `30m`, `24h`, `7d`). */
export function overlapSeconds (value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const m = /^(\d{1,7})([smhd]?)$/.exec(value.trim())
  if (m === null) throw new UsageError(`--overlap: "${value}" is not a duration like 0, 30m, 24h or 7d`)
  return Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as '' | 's' | 'm' | 'h' | 'd']
}

/** The scope flags of `keys create`: --scopes (JSON) and one list each per --tools/--prompts/--resources. */
type ScopeFlags = { scopes?: string | undefined } & Partial<Record<ScopeKind, string[] | undefined>>

/**
 * The key's scopes from the flags, checked by the API's own rule (core/tool-scope.ts
 * parseKeyScopes); a problem is a usage error naming the flag it came from. Whether the servers
 * exist and belong to the key is the key service's check, as for the API; `flagFor` names the
 * flag of a field it blames.
 */
export function scopesFromFlags (values: ScopeFlags): { scopes: KeyScopes | undefined, flagFor: (field: string) => string } {
  // A Map until checked: a server id from the command line ("__proto__") is never a property name.
  const scopes = new Map<string, Partial<Record<ScopeKind, string[]>>>()
  if (values.scopes !== undefined) {
    let json: unknown
    try {
      json = JSON.parse(values.scopes)
    } catch (err) {
      throw new UsageError(`--scopes: not JSON (${(err as Error).message})`)
    }
    const parsed = parseKeyScopes(json)
    if (!parsed.ok) throw new UsageError(`--scopes: ${parsed.field}: ${parsed.problem}`)
    for (const [id, rule] of Object.entries(parsed.scopes ?? {})) scopes.set(id, { ...rule })
  }
  /** `scopes.<id>.<kind>` fields the list flags filled. */
  const fromFlags = new Set<string>()
  for (const kind of SCOPE_KINDS) {
    for (const value of values[kind] ?? []) {
      const colon = value.indexOf(':')
      if (colon <= 0) throw new UsageError(`--${kind}: "${value}" must be <server id or *>:<names or globs, comma-separated>`)
      const id = value.slice(0, colon)
      if (id !== '*' && !new RegExp(SERVER_ID_PATTERN).test(id)) throw new UsageError(`--${kind}: "${id}" is not an MCP server id or "*"`)
      const field = `scopes.${id}.${kind}`
      const rule = scopes.get(id) ?? {}
      scopes.set(id, rule)
      if (rule[kind] !== undefined && !fromFlags.has(field)) throw new UsageError(`--${kind}: the ${kind} of "${id}" are in --scopes already; give them in one place`)
      fromFlags.add(field)
      rule[kind] = [...(rule[kind] ?? []), ...value.slice(colon + 1).split(',').map(e => e.trim()).filter(e => e !== '')]
    }
  }
  const flagFor = (field: string): string => {
    const list = field.split('[')[0] ?? ''
    if (fromFlags.has(list)) return `--${list.slice(list.lastIndexOf('.') + 1)}`
    const parts = list.split('.')
    if (parts.length < 2) return '--scopes'
    const server = `${parts.slice(0, 2).join('.')}.`
    for (const f of fromFlags) if (f.startsWith(server)) return `--${f.slice(f.lastIndexOf('.') + 1)}`
    return '--scopes'
  }
  const parsed = parseKeyScopes(Object.fromEntries(scopes))
  if (!parsed.ok) throw new UsageError(`${flagFor(parsed.field)}: ${parsed.field}: ${parsed.problem}`)
  return { scopes: parsed.scopes ?? undefined, flagFor }
}

async function findUser (service: KeyService, ref: string): Promise<UserView> {
  return ref.includes('@') ? await service.getUserByEmail(ref) : await service.getUser(ref)
}

/** A user as the CLI names them: the email, or a service account's name when it has none. */
function who (user: Pick<UserView, 'email' | 'name'>): string {
  return user.email === '' ? `"${user.name}"` : `<${user.email}>`
}

function table (io: Io, header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()
  io.out(line(header))
  for (const r of rows) io.out(line(r))
}

async function allPages<T> (fetch: (cursor: string | null) => Promise<{ items: T[], nextCursor: string | null }>): Promise<T[]> {
  const out: T[] = []
  let cursor: string | null = null
  do {
    const page = await fetch(cursor)
    out.push(...page.items)
    cursor = page.nextCursor
  } while (cursor !== null)
  return out
}

export async function runOperator (area: 'users' | 'keys', args: string[], env: Env, io: Io, clock: Clock = systemClock): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    email: { type: 'string' },
    name: { type: 'string' },
    role: { type: 'string' },
    service: { type: 'boolean' },
    kind: { type: 'string' },
    groups: { type: 'string' },
    user: { type: 'string' },
    servers: { type: 'string' },
    expires: { type: 'string' },
    overlap: { type: 'string' },
    'requests-per-minute': { type: 'string' },
    'tool-calls-per-day': { type: 'string' },
    description: { type: 'string' },
    scopes: { type: 'string' },
    tools: { type: 'string', multiple: true },
    prompts: { type: 'string', multiple: true },
    resources: { type: 'string', multiple: true }
  })
  const usage = area === 'users' ? USERS_USAGE : KEYS_USAGE
  const [action, target] = positionals
  if (values.help) {
    io.out(usage)
    return 0
  }
  if (action === undefined) throw new UsageError(`${area}: which action?\n${usage}`)
  const actions = area === 'users' ? ['create', 'list', 'delete'] : ['create', 'list', 'delete', 'rotate']
  if (!actions.includes(action)) throw new UsageError(`unknown action "${area} ${action}"\n${usage}`)
  const path = configPath(values.config, env, io)
  const config = loadConfig(path, env)
  // Only `users create` may start a new SQLite store (the first admin before the first start).
  // Reading, deleting or making a key in a file that does not exist would create an empty store
  // and answer from it: the sign of a wrong --config or working directory, said as such.
  if (config.store.type === 'sqlite' && !(area === 'users' && action === 'create') && !existsSync(config.store.path)) {
    throw new Error(`no SQLite store at ${config.store.path} (store.path of ${path}); "${area} ${action}" creates none. ` +
      'Is this the config mcpgate runs with? "mcpgate start" or "mcpgate users create" makes the store.')
  }
  const store = openStore(config.store)
  const service = createKeyService({ store, config, clock })
  try {
    const need = (name: string, v: string | undefined): string => {
      if (v === undefined || v === '') throw new UsageError(`${area} ${action}: --${name} is required\n${usage}`)
      return v
    }
    if (area === 'users') {
      if (action === 'create') {
        const role = values.role ?? 'user'
        if (role !== 'user' && role !== 'admin') throw new UsageError('users create: --role must be user or admin')
        const isService = values.service === true
        if (isService && role === 'admin') throw new UsageError('users create: --service: a service account cannot be an admin (it never signs in); give it --groups')
        const user = await service.createUser({
          ...(isService ? { kind: 'service' as const } : {}),
          ...(isService && values.email === undefined ? {} : { email: need('email', values.email) }),
          name: need('name', values.name),
          role: role as Role,
          groups: values.groups === undefined ? [] : values.groups.split(',').map(g => g.trim()).filter(g => g !== '')
        })
        const groups = user.groups.length > 0 ? ` groups=${user.groups.join(',')}` : ''
        io.out(user.kind === 'service'
          ? `created service account ${user.id} "${user.name}"${user.email === '' ? '' : ` <${user.email}>`}${groups}`
          : `created user ${user.id} <${user.email}> role=${user.role}${groups}`)
        return 0
      }
      if (action === 'list') {
        const kind = values.kind
        if (kind !== undefined && kind !== 'human' && kind !== 'service') throw new UsageError('users list: --kind must be human or service')
        const users = await allPages(cursor => service.listUsers({ limit: 100, cursor, ...(kind === undefined ? {} : { kind }) }))
        table(io, ['ID', 'KIND', 'EMAIL', 'NAME', 'ROLE', 'GROUPS', 'DISABLED', 'CREATED'],
          users.map(u => [u.id, u.kind, u.email === '' ? '-' : u.email, u.name, u.role, u.groups.join(','), u.disabled ? 'yes' : 'no', u.createdAt]))
        return 0
      }
      if (action === 'delete') {
        const user = await findUser(service, need('user id or email', target))
        await service.deleteUser(user.id)
        io.out(`deleted ${user.kind === 'service' ? 'service account' : 'user'} ${user.id} ${who(user)} and all their keys`)
        return 0
      }
    } else {
      if (action === 'create') {
        const owner = await findUser(service, need('user', values.user))
        const servers = need('servers', values.servers).split(',').map(s => s.trim()).filter(s => s !== '')
        const { scopes, flagFor } = scopesFromFlags(values)
        const created = await service.createKey(owner.id, {
          name: need('name', values.name),
          description: values.description ?? '',
          expiresAt: resolveExpiry(values.expires, clock),
          mcpServerIds: servers,
          ...(scopes === undefined ? {} : { scopes }),
          ...limitFlags(values['requests-per-minute'], values['tool-calls-per-day'])
        }).catch((err: unknown) => { throw asUsageError(err, flagFor, values.expires) })
        const scoped = created.record.scopes === undefined ? '' : `, scopes ${JSON.stringify(created.record.scopes)}`
        io.err(`created key ${created.record.id} "${created.record.name}" for ${who(owner)}, servers ${created.record.mcpServerIds.join(',')}${scoped}, expires ${created.record.expiresAt ?? 'never'}`)
        io.err('The key is shown once; store it now:')
        io.out(created.key)
        return 0
      }
      if (action === 'list') {
        const owner = values.user === undefined ? undefined : await findUser(service, values.user)
        const keys = await allPages(cursor => service.listKeysWithOwners({ limit: 100, cursor, ...(owner === undefined ? {} : { userId: owner.id }) }))
        table(io, ['ID', 'NAME', 'USER', 'SERVERS', 'SCOPES', 'CREATED', 'EXPIRES', 'LAST USED'],
          keys.map(k => [k.id, k.name, k.user.email === '' ? `${k.user.name} (${k.user.id})` : k.user.email, k.mcpServerIds.join(','), k.scopes === undefined ? '-' : JSON.stringify(k.scopes), k.createdAt, k.expiresAt ?? 'never', k.lastUsedAt ?? 'never']))
        return 0
      }
      if (action === 'delete') {
        const deleted = await service.deleteKey(need('key id', target))
        io.out(`deleted key ${deleted.id} "${deleted.name}"`)
        return 0
      }
      if (action === 'rotate') {
        const overlap = overlapSeconds(values.overlap)
        const rotated = await service.rotateKey(need('key id', target), overlap === undefined ? {} : { overlapSeconds: overlap })
        io.err(`rotated key ${rotated.record.id} "${rotated.record.name}": the old key works until ${rotated.record.previousSecretValidUntil ?? 'now (no overlap)'}`)
        io.err('The new key is shown once; store it now:')
        io.out(rotated.key)
        return 0
      }
    }
    throw new UsageError(`unknown action "${area} ${action}"\n${usage}`)
  } catch (err) {
    throw asUsageError(err, () => '--scopes', values.expires)
  } finally {
    await store.close()
  }
}
