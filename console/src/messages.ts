// What the console says when the admin API refuses or fails: a sentence for the reader, never the
// API's raw message (field paths, codes, ids, Ajv's wording). Known codes get their own words
// (core/errors.ts declares them); a validation error ("<field path>: <problem>", the admin API's
// one convention) names the field by its label in the forms; anything else by what kind of
// failure it is. The raw message stays on the ApiError, for placing an error next to its field.
import { ApiError } from './api.ts'

/** The forms' labels of the API's fields. */
const FIELD_LABELS: Record<string, string> = {
  name: 'Name',
  description: 'Description',
  expiresAt: 'Expiration date',
  mcpServerIds: 'MCP servers',
  scopes: 'Tools, prompts and resources',
  limits: 'Limits',
  'limits.requestsPerMinute': 'Requests per minute',
  'limits.toolCallsPerDay': 'Tool calls per day',
  email: 'Email',
  role: 'Role',
  groups: 'Groups',
  kind: 'Kind',
  disabled: 'Disabled',
  overlapSeconds: 'How long the old key keeps working',
  since: 'Since',
  until: 'Until',
  outcome: 'Outcome',
  keyId: 'Key ID',
  userId: 'User ID',
  serverId: 'Server ID'
}

const SCOPE_KINDS: Record<string, string> = { tools: 'tools', prompts: 'prompts', resources: 'resources' }

/** "fooBar" → "Foo bar": a field the console has no label for, in words. */
function words (name: string): string {
  const spaced = name.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase()
  return spaced.charAt(0).toUpperCase() + spaced.slice(1)
}

/**
 * A field path as the forms name it: `limits.toolCallsPerDay` → "Tool calls per day",
 * `scopes.docs.tools[1]` → "The tools of docs" (`serverName` turns the id into its name).
 */
export function fieldLabel (path: string, serverName: (id: string) => string = id => id): string {
  const bare = path.replace(/^(query|path) /, '')
  const known = FIELD_LABELS[bare] ?? FIELD_LABELS[bare.replace(/\[\d+\]$/, '')]
  if (known !== undefined) return known
  const scope = /^scopes\.([^.[\]]+)(?:\.([a-z]+))?/.exec(bare)
  if (scope !== null) {
    const server = scope[1] === '*' ? 'servers added later' : serverName(scope[1] as string)
    const kind = scope[2] === undefined ? undefined : SCOPE_KINDS[scope[2]]
    return kind === undefined ? `What ${server} may use` : `The ${kind} of ${server}`
  }
  const last = bare.split(/[.[\]]/).filter(s => s !== '' && !/^\d+$/.test(s)).pop()
  return last === undefined ? 'The request' : words(last)
}

/** Ajv's and the API's wordings of a problem, as a reader would say them. */
function plainProblem (problem: string): string {
  const n = (s: string | undefined) => Number(s).toLocaleString()
  let m = /^must NOT have fewer than (\d+) characters$/i.exec(problem)
  if (m !== null) return m[1] === '1' ? 'cannot be empty' : `must be at least ${n(m[1])} characters`
  if ((m = /^must NOT have more than (\d+) characters$/i.exec(problem)) !== null) return `must be at most ${n(m[1])} characters`
  if ((m = /^must NOT have fewer than (\d+) items$/i.exec(problem)) !== null) return m[1] === '1' ? 'needs at least one entry' : `needs at least ${n(m[1])} entries`
  if ((m = /^must NOT have more than (\d+) items$/i.exec(problem)) !== null) return `can have at most ${n(m[1])} entries`
  if ((m = /^must be <= (\d+)$/.exec(problem)) !== null) return `must be at most ${n(m[1])}`
  if ((m = /^must be >= (\d+)$/.exec(problem)) !== null) return `must be at least ${n(m[1])}`
  if ((m = /^must match format "([^"]+)"$/.exec(problem)) !== null) return m[1] === 'date-time' ? 'must be a date and time' : m[1] === 'email' ? 'must be an email address' : 'is not in the expected form'
  if (problem === 'must be integer') return 'must be a whole number'
  if (problem === 'must be string') return 'must be text'
  if (problem === 'unknown field') return 'is not accepted here'
  return problem
}

function sentence (text: string): string {
  const t = text.trim()
  const capital = t.charAt(0).toUpperCase() + t.slice(1)
  return /[.!?]$/.test(capital) ? capital : `${capital}.`
}

/**
 * "<field path>: <problem>" (the admin API's validation messages, and the console's own checks
 * by the same rules) as a sentence: "name: is required for …" → "Name is required for …".
 */
export function validationSentence (message: string, serverName?: (id: string) => string): string {
  const m = /^((?:query |path )?[^\s:]+|\(\w+\)): (.+)$/s.exec(message)
  if (m === null) return sentence(message)
  const problem = plainProblem(m[2] as string)
  if (/^\(\w+\)$/.test(m[1] as string)) return sentence(problem)
  const label = fieldLabel(m[1] as string, serverName)
  const required = /^required: (.+)$/.exec(problem)
  if (required !== null) return sentence(`${label} is required: ${required[1] as string}`)
  if (/^(is|are|must|cannot|can|has|have|needs|should|uses|names|matches)\b/.test(problem)) return sentence(`${label} ${problem}`)
  return sentence(`${label}: ${problem}`)
}

/** A number the API put in its message (e.g. a maximum), or null. */
function numberIn (message: string): string | null {
  const m = /(\d[\d,]*)/.exec(message)
  return m === null ? null : Number(m[1]?.replace(/,/g, '')).toLocaleString()
}

/** Known refusals and failures, by their stable code. */
const BY_CODE: Record<string, (e: ApiError) => string> = {
  NETWORK: () => 'The admin API cannot be reached. Check your connection, then retry.',
  MCPGATE_UNAUTHENTICATED: () => 'Your session has ended. Sign in again.',
  MCPGATE_TOKEN_INVALID: () => 'Your session is no longer valid. Sign in again.',
  MCPGATE_API_KEY_NOT_ACCEPTED: () => 'That is an API key: it works at the gateway only. Sign in with single sign-on or the admin token.',
  MCPGATE_FORBIDDEN: () => 'This needs the admin role, which your account does not have.',
  MCPGATE_USER_DISABLED: () => 'Your account is disabled. Ask an administrator to enable it.',
  MCPGATE_NO_USER_ACCOUNT: () => 'The admin token is not a user and owns no keys. Sign in with single sign-on to create your own, or create keys for a user on the Users page.',
  MCPGATE_EMAIL_TAKEN: () => 'A user with this email address already exists.',
  MCPGATE_KEY_LIMIT_REACHED: e => {
    const max = numberIn(e.message)
    return `The most API keys one user may have${max === null ? '' : ` (${max})`} is reached. Delete a key that is no longer used first.`
  },
  MCPGATE_MCP_SERVER_NOT_FOUND: () => 'One of the chosen MCP servers no longer exists or can no longer be reached. Reload the page and choose again.',
  MCPGATE_API_KEY_NOT_FOUND: () => 'This API key no longer exists: it may have been deleted meanwhile. Reload the page.',
  MCPGATE_USER_NOT_FOUND: () => 'This user no longer exists: they may have been deleted meanwhile. Reload the page.',
  MCPGATE_LAST_ADMIN: () => 'This is the last enabled admin: disabling, demoting or deleting them would leave nobody who can administer mcpgate in the console. Make another user an admin first.',
  MCPGATE_ROLE_FROM_IDP_GROUP: e => {
    const group = /group "([^"]+)"/.exec(e.message)?.[1]
    const through = group === undefined ? 'an identity provider group' : `the identity provider group “${group}”`
    return `This user is an admin through ${through}: their next sign-in would make them an admin again. Remove them from that group at the identity provider instead.`
  },
  MCPGATE_CATALOG_UNAVAILABLE: () => 'The tools, prompts and resources of this MCP server could not be listed right now.',
  MCPGATE_IDP_UNAVAILABLE: () => 'The identity provider cannot be reached to check your sign-in. Try again in a moment.',
  MCPGATE_STORE_UNAVAILABLE: () => 'The key store is unavailable right now. Try again in a moment.',
  MCPGATE_EMAIL_NOT_VERIFIED: () => 'Your identity provider does not say that your email address is verified, so no account can be tied to it. Ask your administrator.',
  MCPGATE_IDENTITY_CONFLICT: () => 'The account with your email address belongs to another identity at the identity provider. Ask your administrator.',
  MCPGATE_SERVICE_ACCOUNT_NO_SIGN_IN: () => 'This email address belongs to a service account, which never signs in.'
}

/** What went wrong, for the reader. */
export function describeError (error: unknown, serverName?: (id: string) => string): string {
  if (!(error instanceof ApiError)) return error instanceof Error ? error.message : String(error)
  const known = BY_CODE[error.code]
  if (known !== undefined) return known(error)
  if (error.code === 'MCPGATE_VALIDATION_FAILED' || error.code === 'MCPGATE_BAD_REQUEST' || error.statusCode === 400) return validationSentence(error.message, serverName)
  if (error.statusCode === 429) return 'Too many attempts from here. Wait a minute, then try again.'
  if (error.statusCode === 404) return 'Not found: it may have been deleted meanwhile. Reload the page.'
  if (error.statusCode >= 500) return `The admin API could not do this (error ${error.statusCode}). Try again in a moment; if it keeps failing, the admin API's log says why.`
  return `The admin API refused this (error ${error.statusCode}).`
}

/** Whether trying again may help: the API could not be reached, or failed on its side. */
export function isTransient (error: unknown): boolean {
  return error instanceof ApiError && (error.statusCode === 0 || error.statusCode >= 500)
}
