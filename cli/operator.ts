// Operator commands (`mcpgate users …`, `mcpgate keys …`) working directly on the configured
// store through the admin API's key service — the same rules as the REST routes, no second copy.
import { loadConfig, parseCommandArgs, UsageError, type Io } from './command.ts'
import type { Env } from '../config/load.ts'
import { openStore } from '../core/store/open.ts'
import { systemClock, type Clock } from '../core/clock.ts'
import { createKeyService, type KeyService } from '../admin-api/key-service.ts'
import type { UserView } from '../admin-api/schemas.ts'
import type { Role } from '../core/store/store.ts'

const USERS_USAGE = `Usage:
  mcpgate users create --email E --name N [--role user|admin] [--groups a,b] [--config FILE]
  mcpgate users list [--config FILE]
  mcpgate users delete <id|email> [--config FILE]     (deletes every key of the user too)`

const KEYS_USAGE = `Usage:
  mcpgate keys create --user <email|id> --name N --servers a,b|* [--expires <RFC3339|30d|12h>] [--description D] [--config FILE]
  mcpgate keys list [--user <email|id>] [--config FILE]
  mcpgate keys delete <id> [--config FILE]`

/** `30d` / `12h` / `45m` from now, or an RFC 3339 string passed through for the service to validate. */
export function resolveExpiry (value: string | undefined, clock: Clock): string | null {
  if (value === undefined || value === '' || value === 'never') return null
  const m = /^(\d{1,5})([dhm])$/.exec(value)
  if (m === null) return value
  const unit = { d: 86_400_000, h: 3_600_000, m: 60_000 }[m[2] as 'd' | 'h' | 'm']
  return new Date(clock.now() + Number(m[1]) * unit).toISOString()
}

async function findUser (service: KeyService, ref: string): Promise<UserView> {
  return ref.includes('@') ? await service.getUserByEmail(ref) : await service.getUser(ref)
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
    groups: { type: 'string' },
    user: { type: 'string' },
    servers: { type: 'string' },
    expires: { type: 'string' },
    description: { type: 'string' }
  })
  const usage = area === 'users' ? USERS_USAGE : KEYS_USAGE
  const [action, target] = positionals
  if (values.help || action === undefined) {
    io.out(usage)
    return values.help ? 0 : 2
  }
  const config = loadConfig(values.config, env)
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
        const user = await service.createUser({
          email: need('email', values.email),
          name: need('name', values.name),
          role: role as Role,
          groups: values.groups === undefined ? [] : values.groups.split(',').map(g => g.trim()).filter(g => g !== '')
        })
        io.out(`created user ${user.id} <${user.email}> role=${user.role}${user.groups.length > 0 ? ` groups=${user.groups.join(',')}` : ''}`)
        return 0
      }
      if (action === 'list') {
        const users = await allPages(cursor => service.listUsers({ limit: 100, cursor }))
        table(io, ['ID', 'EMAIL', 'NAME', 'ROLE', 'GROUPS', 'DISABLED', 'CREATED'],
          users.map(u => [u.id, u.email, u.name, u.role, u.groups.join(','), u.disabled ? 'yes' : 'no', u.createdAt]))
        return 0
      }
      if (action === 'delete') {
        const user = await findUser(service, need('user id or email', target))
        await service.deleteUser(user.id)
        io.out(`deleted user ${user.id} <${user.email}> and all their keys`)
        return 0
      }
    } else {
      if (action === 'create') {
        const owner = await findUser(service, need('user', values.user))
        const servers = need('servers', values.servers).split(',').map(s => s.trim()).filter(s => s !== '')
        const created = await service.createKey(owner.id, {
          name: need('name', values.name),
          description: values.description ?? '',
          expiresAt: resolveExpiry(values.expires, clock),
          mcpServerIds: servers
        })
        io.err(`created key ${created.record.id} "${created.record.name}" for ${owner.email}, servers ${created.record.mcpServerIds.join(',')}, expires ${created.record.expiresAt ?? 'never'}`)
        io.err('The key is shown once; store it now:')
        io.out(created.key)
        return 0
      }
      if (action === 'list') {
        const owner = values.user === undefined ? undefined : await findUser(service, values.user)
        const keys = await allPages(cursor => service.listKeysWithOwners({ limit: 100, cursor, ...(owner === undefined ? {} : { userId: owner.id }) }))
        table(io, ['ID', 'NAME', 'USER', 'SERVERS', 'CREATED', 'EXPIRES', 'LAST USED'],
          keys.map(k => [k.id, k.name, k.user.email, k.mcpServerIds.join(','), k.createdAt, k.expiresAt ?? 'never', k.lastUsedAt ?? 'never']))
        return 0
      }
      if (action === 'delete') {
        const deleted = await service.deleteKey(need('key id', target))
        io.out(`deleted key ${deleted.id} "${deleted.name}"`)
        return 0
      }
    }
    throw new UsageError(`unknown action "${area} ${action}"\n${usage}`)
  } finally {
    await store.close()
  }
}
