// Loads the config: YAML file → `${VAR}` interpolation → env overrides → defaults → validation
// (messages name the field, e.g. `servers[1].url: must be an http(s) URL`) → deep freeze.
// This file and cli/ are the only readers of the environment; everything else gets a Config.
// Every variable read here may instead be given as NAME_FILE, the path of a file holding the value
// (Docker and Kubernetes secrets), so that secrets need not sit in the process environment.
import { readFileSync } from 'node:fs'
import { dirname, isAbsolute, resolve } from 'node:path'
import { Value } from '@sinclair/typebox/value'
import { parse as parseYaml } from 'yaml'
import { entryProblem, SCOPE_KINDS } from '../core/tool-scope.ts'
import { ConfigSchema, type Config } from './schema.ts'
import { parseRedisTarget } from '../core/store/redis-url.ts'

export type Env = Readonly<Record<string, string | undefined>>

export class ConfigError extends Error {
  readonly code = 'MCPGATE_CONFIG_INVALID'
  /** `headline` replaces "<source> is invalid:" and the list, for a problem that is not the content's (an unreadable file). */
  constructor (readonly problems: string[], readonly source = 'config', headline?: string) {
    super(headline ?? `${source} is invalid:\n  ${problems.join('\n  ')}`)
    this.name = 'ConfigError'
  }
}

/** Where a value read from the environment came from: `MCPGATE_ADMIN_TOKEN`, or `MCPGATE_ADMIN_TOKEN_FILE (/run/secrets/t)`. */
interface EnvValue { value: string, from: string }

/**
 * The value of `name` from the environment, or from the file `${name}_FILE` names (one trailing
 * newline trimmed: `echo token > file` and most secret stores add one). Both set is a mistake, not
 * a precedence rule to remember; an unreadable or empty file is reported naming the variable. An
 * empty `${name}_FILE` counts as unset, as an empty override does.
 */
function readEnv (env: Env, name: string, problems: string[]): EnvValue | undefined {
  const direct = env[name]
  const file = env[`${name}_FILE`]
  if (file === undefined || file === '') return direct === undefined ? undefined : { value: direct, from: name }
  if (direct !== undefined && direct !== '') {
    problems.push(`${name} and ${name}_FILE are both set: set one of them`)
    return undefined
  }
  try {
    const value = readFileSync(file, 'utf8').replace(/\r?\n$/, '')
    // An empty secret file is a mistake (a Compose secret from an unset variable), never "unset".
    if (value === '') problems.push(`${name}_FILE: ${file} is empty`)
    return value === '' ? undefined : { value, from: `${name}_FILE (${file})` }
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    problems.push(`${name}_FILE: cannot read ${file}: ${e.code ?? e.message}`)
    return undefined
  }
}

/** `/servers/1/url` → `servers[1].url` */
function fieldName (pointer: string): string {
  const parts = pointer.split('/').filter(p => p !== '').map(p => p.replace(/~1/g, '/').replace(/~0/g, '~'))
  let out = ''
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : (out === '' ? p : `.${p}`)
  return out === '' ? '(root)' : out
}

function interpolate (value: unknown, env: Env, path: string, problems: string[]): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const before = problems.length
      const v = readEnv(env, name, problems)
      if (v === undefined) {
        if (problems.length === before) problems.push(`${fieldName(path)}: environment variable ${name} is not set (nor ${name}_FILE)`)
        else problems[problems.length - 1] = `${fieldName(path)}: ${problems[problems.length - 1] ?? ''}`
        return ''
      }
      return v.value
    })
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, env, `${path}/${i}`, problems))
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = interpolate(v, env, `${path}/${k}`, problems)
    return out
  }
  return value
}

function setPath (obj: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = obj
  for (const key of path.slice(0, -1)) {
    const next = cur[key]
    if (next === null || typeof next !== 'object' || Array.isArray(next)) cur[key] = {}
    cur = cur[key] as Record<string, unknown>
  }
  cur[path[path.length - 1] as string] = value
}

/** The few deploy-time settings that the environment may override. */
const ENV_OVERRIDES: Array<[string, string[], 'int' | 'string']> = [
  ['MCPGATE_GATEWAY_HOST', ['gateway', 'host'], 'string'],
  ['MCPGATE_GATEWAY_PORT', ['gateway', 'port'], 'int'],
  ['MCPGATE_ADMIN_HOST', ['admin', 'host'], 'string'],
  ['MCPGATE_ADMIN_PORT', ['admin', 'port'], 'int'],
  ['MCPGATE_ADMIN_TOKEN', ['admin', 'token'], 'string'],
  ['MCPGATE_STORE_TYPE', ['store', 'type'], 'string'],
  ['MCPGATE_STORE_URL', ['store', 'url'], 'string'],
  ['MCPGATE_STORE_PATH', ['store', 'path'], 'string'],
  ['MCPGATE_OAUTH_SIGNING_KEY_FILE', ['oauth', 'signingKeyFile'], 'string']
]

function isHttpUrl (s: string): boolean {
  try {
    const u = new URL(s)
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.username === '' && u.password === ''
  } catch {
    return false
  }
}

// RFC 9110 §5.1: a field name is a token.
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/** `servers[0].headers.Authorization`, or `servers[0].headers["X A"]` with anything unprintable escaped. */
function headerField (server: number, name: string): string {
  if (HEADER_NAME.test(name)) return `servers[${server}].headers.${name}`
  const shown = name.replace(/[^\x20-\x7e]|["\\]/g, c => c === '"' || c === '\\' ? `\\${c}` : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
  return `servers[${server}].headers["${shown}"]`
}

function codePoint (c: string): string {
  return 'U+' + (c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')
}

/**
 * What is wrong with an upstream header value, or null. RFC 9110 §5.5: visible characters, spaces
 * and tabs (and obs-text, which undici sends as Latin-1). Anything else makes undici refuse every
 * request to the server (a 502 per call), so it is refused here, after interpolation: a token read
 * from a file often ends with a newline. Says where, never what: the value is usually a secret.
 */
function headerValueProblem (value: string): string | null {
  const chars = [...value]
  for (const [i, c] of chars.entries()) {
    const code = c.codePointAt(0) ?? 0
    const at = `at character ${i + 1} of ${chars.length}`
    // C0 controls but tab, DEL and the C1 controls.
    if ((code < 0x20 && code !== 0x09) || (code >= 0x7f && code <= 0x9f)) {
      return `control character ${codePoint(c)} ${at}${i === chars.length - 1 && (c === '\n' || c === '\r') ? ' (a trailing newline from a ${VAR} or a file?)' : ''}; header values take visible characters, spaces and tabs only`
    }
    if (code > 0xff) return `character ${codePoint(c)} ${at} cannot be sent in an HTTP header (only ASCII and Latin-1)`
  }
  return null
}

function semanticProblems (config: Config): string[] {
  const problems: string[] = []
  const seen = new Set<string>()
  config.servers.forEach((s, i) => {
    if (!isHttpUrl(s.url)) problems.push(`servers[${i}].url: must be an http(s) URL without credentials`)
    if (seen.has(s.id)) problems.push(`servers[${i}].id: duplicate server id "${s.id}"`)
    seen.add(s.id)
    for (const [name, value] of Object.entries(s.headers)) {
      if (!HEADER_NAME.test(name)) problems.push(`${headerField(i, name)}: not a valid header name (RFC 9110 token characters only)`)
      const problem = headerValueProblem(value)
      if (problem !== null) problems.push(`${headerField(i, name)}: ${problem}`)
    }
    for (const [p, policy] of (s.policies ?? []).entries()) {
      for (const kind of SCOPE_KINDS) {
        for (const [e, entry] of (policy[kind] ?? []).entries()) {
          const problem = entryProblem(entry)
          if (problem !== null) problems.push(`servers[${i}].policies[${p}].${kind}[${e}]: ${problem}`)
        }
      }
    }
  })
  if (config.store.type === 'redis') {
    const url = config.store.url
    if (url === undefined || url === '') problems.push('store.url: required when store.type is redis (or set MCPGATE_STORE_URL)')
    else {
      const target = parseRedisTarget(url)
      if ('error' in target) problems.push(`store.url: ${target.error}`)
    }
  }
  if (config.admin.oidc?.jwksUrl !== undefined && !isHttpUrl(config.admin.oidc.jwksUrl)) {
    problems.push('admin.oidc.jwksUrl: must be an http(s) URL')
  }
  if (config.oauth.issuer !== undefined && !isHttpUrl(config.oauth.issuer)) problems.push('oauth.issuer: must be an http(s) URL')
  // Sign-in for the consent page is the console's (admin.oidc): a grant belongs to a user.
  if (config.oauth.enabled && config.admin.oidc === undefined) problems.push('oauth.enabled: needs admin.oidc (users sign in through it to consent)')
  for (const [i, o] of config.gateway.allowedOrigins.entries()) {
    if (o !== '*' && !isHttpUrl(o)) problems.push(`gateway.allowedOrigins[${i}]: must be an origin like https://app.example.com`)
  }
  return problems
}

function deepFreeze<T> (value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
}

export interface BuildOptions {
  /**
   * The config file's directory: a relative `store.path`, `audit.file` or `oauth.signingKeyFile` written in the file is
   * taken from there, so the file means the same store whatever directory mcpgate is started in.
   * Absent (a document built in code): relative to the working directory. A path from the
   * environment (MCPGATE_STORE_PATH, MCPGATE_OAUTH_SIGNING_KEY_FILE) is always relative to the working directory, like any path
   * typed in a shell.
   */
  baseDir?: string
}

/** `store.path` (not `:memory:`), `audit.file` (not `stdout`) and `oauth.signingKeyFile` made absolute against the file's directory. */
function resolveFilePaths (config: Config, baseDir: string, fromEnv: ReadonlyMap<string, string>): void {
  const store = config.store
  if (!fromEnv.has('store.path') && store.path !== ':memory:' && !isAbsolute(store.path)) store.path = resolve(baseDir, store.path)
  const file = config.audit.file
  if (file !== undefined && file !== 'stdout' && !isAbsolute(file)) config.audit.file = resolve(baseDir, file)
  const keyFile = config.oauth.signingKeyFile
  if (keyFile !== undefined && !fromEnv.has('oauth.signingKeyFile') && !isAbsolute(keyFile)) config.oauth.signingKeyFile = resolve(baseDir, keyFile)
}

/**
 * A problem about a field the environment set names the variable: the operator looks for the
 * mistake in the environment, not in the file (`admin.token, from the environment variable
 * MCPGATE_ADMIN_TOKEN: expected string length greater or equal to 16`). The value is not shown.
 */
function blameEnvironment (problem: string, fromEnv: ReadonlyMap<string, string>): string {
  for (const [field, from] of fromEnv) {
    if (problem.startsWith(`${field}: `) || problem.startsWith(`${field}.`) || problem.startsWith(`${field}[`)) {
      const colon = problem.indexOf(': ')
      return `${problem.slice(0, colon)}, from the environment variable ${from}${problem.slice(colon)}`
    }
  }
  return problem
}

/** Validates an already-parsed document. Throws ConfigError listing every problem. */
export function buildConfig (document: unknown, env: Env = {}, source = 'config', options: BuildOptions = {}): Readonly<Config> {
  const problems: string[] = []
  const raw = document ?? {}
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(['(root): must be a mapping'], source)
  const doc = interpolate(raw, env, '', problems) as Record<string, unknown>
  /** Dotted field → the variable that set it. */
  const fromEnv = new Map<string, string>()
  for (const [name, path, kind] of ENV_OVERRIDES) {
    const v = readEnv(env, name, problems)
    if (v === undefined || v.value === '') continue
    if (kind === 'int') {
      if (!/^\d+$/.test(v.value)) { problems.push(`${v.from}: must be an integer`); continue }
      setPath(doc, path, Number(v.value))
    } else {
      setPath(doc, path, v.value)
    }
    fromEnv.set(path.join('.'), v.from)
  }
  const withDefaults = Value.Default(ConfigSchema, Value.Clone(doc))
  for (const e of Value.Errors(ConfigSchema, withDefaults)) {
    const msg = blameEnvironment(`${fieldName(e.path)}: ${e.message.charAt(0).toLowerCase()}${e.message.slice(1)}`, fromEnv)
    if (!problems.includes(msg)) problems.push(msg)
    if (problems.length >= 20) break
  }
  if (problems.length > 0) throw new ConfigError(problems, source)
  const config = withDefaults as Config
  for (const s of config.servers) if (s.name === '') s.name = s.id
  if (options.baseDir !== undefined) resolveFilePaths(config, options.baseDir, fromEnv)
  problems.push(...semanticProblems(config).map(p => blameEnvironment(p, fromEnv)))
  if (problems.length > 0) throw new ConfigError(problems, source)
  return deepFreeze(config)
}

export function parseConfigText (text: string, env: Env = {}, source = 'config', options: BuildOptions = {}): Readonly<Config> {
  let doc: unknown
  try {
    doc = parseYaml(text)
  } catch (err) {
    throw new ConfigError([`(yaml): ${(err as Error).message.split('\n')[0]}`], source)
  }
  return buildConfig(doc, env, source, options)
}

/** The options for a config read from `path`: relative paths in it are relative to its directory. */
export function fileOptions (path: string): BuildOptions {
  return { baseDir: dirname(resolve(path)) }
}

export function loadConfigFile (path: string, env: Env = {}): Readonly<Config> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    const why = e.code === 'ENOENT' ? 'ENOENT (no such file)' : e.code ?? e.message
    throw new ConfigError([`cannot read ${path}: ${why}`], path, `cannot read the config file ${path}: ${why}`)
  }
  return parseConfigText(text, env, path, fileOptions(path))
}
