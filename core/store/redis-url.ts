// What `store.url` names for the Redis store: one server (redis://, rediss://, a unix socket), or
// a primary found through Redis Sentinel (redis+sentinel://). Parsed once, at config load (so a
// mistake names the field) and again by RedisStore.

export type RedisTarget =
  | { kind: 'url', url: string }
  | { kind: 'socket', path: string }
  | {
    kind: 'sentinel'
    /** The sentinels asked for the current primary; any one answering is enough. */
    sentinels: Array<{ host: string, port: number }>
    /** The monitored primary's name (`sentinel monitor <name> …`). */
    name: string
    /** Credentials of the primary (from the URL's user info). */
    username?: string
    password?: string
    /** Credentials of the sentinels themselves (query `sentinelUsername`, `sentinelPassword`). */
    sentinelUsername?: string
    sentinelPassword?: string
  }

export const SENTINEL_PORT = 26379

const SENTINEL_FORM = 'redis+sentinel://[user:password@]host[:port][,host[:port]…]/<primary name>'

/** The target, or a message saying what is wrong (never echoing a password). */
export function parseRedisTarget (url: string): RedisTarget | { error: string } {
  if (/^rediss?:\/\//i.test(url)) return { kind: 'url', url }
  if (url.startsWith('/')) return { kind: 'socket', path: url }
  if (url.startsWith('unix:')) return { kind: 'socket', path: new URL(url).pathname }
  if (/^redis\+sentinel:\/\//i.test(url)) return parseSentinel(url.slice('redis+sentinel://'.length))
  return { error: `must be redis://…, rediss://…, a unix socket path or ${SENTINEL_FORM}` }
}

function parseSentinel (rest: string): RedisTarget | { error: string } {
  const q = rest.indexOf('?')
  const query = new URLSearchParams(q < 0 ? '' : rest.slice(q + 1))
  const beforeQuery = q < 0 ? rest : rest.slice(0, q)
  const slash = beforeQuery.indexOf('/')
  if (slash < 0) return { error: `names no primary: ${SENTINEL_FORM}` }
  const authority = beforeQuery.slice(0, slash)
  const name = decode(beforeQuery.slice(slash + 1))
  if (name === null || name === '' || name.includes('/')) return { error: `names no primary: ${SENTINEL_FORM}` }
  const at = authority.lastIndexOf('@')
  const hostList = at < 0 ? authority : authority.slice(at + 1)
  const sentinels: Array<{ host: string, port: number }> = []
  for (const part of hostList.split(',')) {
    const m = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?$/.exec(part)
    const port = m?.[2] === undefined ? SENTINEL_PORT : Number(m[2])
    if (m === null || port < 1 || port > 65535) return { error: `sentinel "${part}" is not host[:port]` }
    sentinels.push({ host: (m[1] as string).replace(/^\[|\]$/g, ''), port })
  }
  const target: RedisTarget = { kind: 'sentinel', sentinels, name }
  if (at >= 0) {
    const info = authority.slice(0, at)
    const colon = info.indexOf(':')
    const username = decode(colon < 0 ? info : info.slice(0, colon))
    const password = colon < 0 ? '' : decode(info.slice(colon + 1))
    if (username === null || password === null) return { error: 'has a malformed %-escape in its user info' }
    // As ioredis reads redis:// user info: `:password@` is a password alone, `user@` a user alone.
    if (username !== '') target.username = username
    if (password !== '') target.password = password
  }
  for (const [param, value] of query) {
    if (param === 'sentinelUsername') target.sentinelUsername = value
    else if (param === 'sentinelPassword') target.sentinelPassword = value
    else return { error: `has an unknown parameter "${param}" (known: sentinelUsername, sentinelPassword)` }
  }
  return target
}

function decode (s: string): string | null {
  try {
    return decodeURIComponent(s)
  } catch {
    return null
  }
}
