// Request and response schemas of the admin API (TypeBox), and the one source of its wire types.
// They validate input (unknown fields are rejected, never stripped), shape output
// (fast-json-stringify writes only listed fields, so a secret hash could not leak even if a record
// reached a reply) and generate /openapi.json; their `Static` types are what key-service.ts
// returns and what the console (console/src/api.ts) reads. So this file stays a leaf: TypeBox, the
// email limit and the scope limits only. The console imports it with `import type`, which the
// build erases.
import { Type, type Static, type TSchema, type TUnsafe } from '@fastify/type-provider-typebox'
import { EMAIL_MAX } from '../core/email.ts'
import { MAX_LIMIT } from '../core/limits.ts'
import { MAX_SCOPE_ENTRIES, MAX_SCOPE_ENTRY_LENGTH } from '../core/tool-scope.ts'

// The input limits: enforced here for HTTP and by key-service.ts for every caller (the CLI too).
export const NAME_MAX = 100
export const DESCRIPTION_MAX = 500
export const USER_NAME_MAX = 200
export { EMAIL_MAX }
export const GROUP_MAX = 200
export const GROUPS_MAX = 500
export const PAGE_LIMIT_DEFAULT = 50
export const PAGE_LIMIT_MAX = 100

const DateTime = (description: string) => Type.String({ format: 'date-time', description })
const NullableDateTime = (description: string) => Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description })
const Role = Type.Union([Type.Literal('admin'), Type.Literal('user')])

export const ErrorBody = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String({ description: 'stable MCPGATE_* code', examples: ['MCPGATE_VALIDATION_FAILED'] }),
  error: Type.String({ description: 'HTTP status text' }),
  message: Type.String()
}, { $id: 'Error', title: 'Error' })
export type ErrorView = Static<typeof ErrorBody>

const ErrorRef = Type.Unsafe<ErrorView>(Type.Ref('Error'))

const errorDescriptions: Record<number, string> = {
  400: 'Invalid input; the message names the field',
  401: 'Missing or invalid credentials (an API key is never accepted here)',
  403: 'Authenticated, but not allowed (admin role required, account disabled, or an OIDC identity that cannot be tied to an account: email not verified, or the account is linked to another identity)',
  404: 'Not found (another user\'s resource answers the same)',
  409: 'Conflict: key limit reached (MCPGATE_KEY_LIMIT_REACHED), email taken (MCPGATE_EMAIL_TAKEN), the last enabled admin disabled, demoted or deleted (MCPGATE_LAST_ADMIN), or an admin role that an identity provider group gives demoted (MCPGATE_ROLE_FROM_IDP_GROUP)',
  502: 'The upstream MCP server could not be listed (MCPGATE_CATALOG_UNAVAILABLE): not reachable, no answer in time, or not a valid MCP answer',
  429: 'Too many failed authentications from this client IP; retry after Retry-After seconds',
  503: 'Store or identity provider unavailable; retry after Retry-After seconds'
}

/** A success response with a description for the OpenAPI document. */
export function ok<T extends TSchema> (schema: T, description: string): T {
  return { ...schema, description }
}

/** Every route lists the error responses it can produce, with the shared error body. */
export function errorResponses (...statuses: number[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = {}
  for (const s of [401, 429, 503, ...statuses]) out[s] = Type.Unsafe({ ...ErrorRef, description: errorDescriptions[s] ?? 'Error' })
  return out
}

export const IdParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64 })
}, { additionalProperties: false })

export const PageQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: PAGE_LIMIT_MAX, default: PAGE_LIMIT_DEFAULT, description: `page size, 1-${PAGE_LIMIT_MAX}` })),
  cursor: Type.Optional(Type.String({ maxLength: 200, description: 'nextCursor of the previous page' }))
}, { additionalProperties: false })

export const UserQuery = Type.Object({
  ...PageQuery.properties,
  kind: Type.Optional(Type.Union([Type.Literal('human'), Type.Literal('service')], { description: 'only users of this kind' }))
}, { additionalProperties: false })

export const AdminKeyQuery = Type.Object({
  ...PageQuery.properties,
  userId: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'only keys of this user' }))
}, { additionalProperties: false })

const ScopeList = (what: string) => Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: MAX_SCOPE_ENTRY_LENGTH }), {
  maxItems: MAX_SCOPE_ENTRIES,
  description: `${what}: exact names or globs where * matches any characters ("/" included); absent = all, [] = none`
}))

/** What a key may use of one server (core/tool-scope.ts ScopeRule). */
export const ScopeRule = Type.Object({
  tools: ScopeList('tool names'),
  resources: ScopeList('resource URIs (a resource template is matched by its uriTemplate)'),
  prompts: ScopeList('prompt names')
}, { additionalProperties: false, title: 'ScopeRule' })

/** A key's per-tool scopes (core/tool-scope.ts KeyScopes): server id or "*" → rule. */
export const KeyScopes = Type.Record(Type.String(), ScopeRule, {
  title: 'KeyScopes',
  description: 'per-tool scopes: MCP server id (one of the key\'s mcpServerIds, or any server the owner can reach when they are ["*"]) or "*" → rule; for server S the rule is scopes[S] ?? scopes["*"], or everything. Absent = whole servers. What a request may use is this rule ∩ the owner\'s policies'
})
export type KeyScopesView = Static<typeof KeyScopes>

/** A key's own rate limit and quota (absent: the gateway's defaults, gateway.limits.perKey). */
export const KeyLimits = Type.Object({
  requestsPerMinute: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIMIT, description: 'requests a minute, every server together; past it 429' })),
  toolCallsPerDay: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIMIT, description: 'tool calls a UTC day; past it a call is answered as a tool error' }))
}, { additionalProperties: false, title: 'KeyLimits' })

export const NewKeyBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: NAME_MAX, description: `1-${NAME_MAX} characters, trimmed` }),
  description: Type.Optional(Type.String({ maxLength: DESCRIPTION_MAX })),
  expiresAt: Type.Optional(NullableDateTime('RFC 3339, in the future; null or absent = never (unless the server sets a maximum lifetime)')),
  mcpServerIds: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
    minItems: 1,
    maxItems: 1000,
    description: '["*"] = every server the owner can reach, now and later; otherwise ids the owner can reach'
  }),
  scopes: Type.Optional(KeyScopes),
  limits: Type.Optional(KeyLimits)
}, { additionalProperties: false })

const keyProperties = {
  id: Type.String(),
  userId: Type.String(),
  name: Type.String(),
  description: Type.String(),
  mcpServerIds: Type.Array(Type.String()),
  scopes: Type.Optional(KeyScopes),
  limits: Type.Optional(KeyLimits),
  createdAt: DateTime('RFC 3339'),
  expiresAt: NullableDateTime('RFC 3339; null = never'),
  lastUsedAt: NullableDateTime('RFC 3339; recorded in batches, may lag by a few seconds'),
  rotatedAt: Type.Optional(DateTime('the last rotation (absent: never rotated)')),
  secretGeneration: Type.Optional(Type.Integer({ minimum: 1, description: 'rotations so far (absent: none)' })),
  previousSecretValidUntil: Type.Optional(DateTime('the secret before the last rotation works until then (absent: it does not)')),
  oauth: Type.Optional(Type.Object({
    clientId: Type.String(),
    clientName: Type.String(),
    redirectHost: Type.String({ description: 'where the client receives its authorization codes' })
  }, { description: 'present when this is an OAuth grant (OAuth mode): the client it was given to; it has no secret and cannot be rotated, deleting it revokes the grant' }))
}

export const ApiKey = Type.Object(keyProperties, { title: 'ApiKey' })

export const RotateKeyBody = Type.Object({
  overlapSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 31536000, description: 'how long the old secret keeps working (default admin.rotationOverlapSeconds; never past expiresAt; 0: refused at once)' }))
}, { additionalProperties: false })
/** A key outside the store: no secret hash, times as RFC 3339. */
export type ApiKeyView = Static<typeof ApiKey>

export const CreatedApiKey = Type.Object({
  ...keyProperties,
  key: Type.String({ description: 'the full API key: shown in this response only, never again' })
}, { title: 'CreatedApiKey' })
export type CreatedApiKeyView = Static<typeof CreatedApiKey>

const UserKind = Type.Union([Type.Literal('human'), Type.Literal('service')], {
  description: 'human: signs in through OIDC; service: a service account, never signs in, its keys made by admins'
})

const UserSummary = Type.Object({ id: Type.String(), kind: UserKind, email: Type.String({ description: '"" for a service account without one' }), name: Type.String() })

export const AdminApiKey = Type.Object({ ...keyProperties, user: UserSummary }, { title: 'AdminApiKey' })
/** An admin's view of a key: the record and who owns it. */
export type AdminApiKeyView = Static<typeof AdminApiKey>

export const User = Type.Object({
  id: Type.String(),
  kind: UserKind,
  email: Type.String({ description: '"" for a service account without one' }),
  name: Type.String(),
  role: Role,
  roleFromGroups: Type.Boolean({ description: 'true when the admin role comes from an identity provider group in admin.oidc.adminGroups: every sign-in sets it from the group, so PATCH role "user" is refused (MCPGATE_ROLE_FROM_IDP_GROUP)' }),
  groups: Type.Array(Type.String()),
  disabled: Type.Boolean(),
  createdAt: DateTime('RFC 3339')
}, { title: 'User' })
export type UserView = Static<typeof User>

const Groups = Type.Array(Type.String({ minLength: 1, maxLength: GROUP_MAX }), { maxItems: GROUPS_MAX })

export const NewUserBody = Type.Object({
  kind: Type.Optional(Type.Union([Type.Literal('human'), Type.Literal('service')], { description: 'default human; service: a service account (role user, no sign-in, email optional)' })),
  email: Type.Optional(Type.String({ minLength: 3, maxLength: EMAIL_MAX, description: 'required for a human; unique; trimmed, stored and compared lowercase; control, invisible and space characters are refused' })),
  name: Type.Optional(Type.String({ minLength: 1, maxLength: USER_NAME_MAX, description: 'default: the email (required for a service account without one)' })),
  role: Type.Optional(Role),
  groups: Type.Optional(Groups),
  disabled: Type.Optional(Type.Boolean())
}, { additionalProperties: false })

export const UserPatchBody = Type.Object({
  name: Type.Optional(Type.String({ minLength: 1, maxLength: USER_NAME_MAX })),
  role: Type.Optional(Role),
  groups: Type.Optional(Groups),
  disabled: Type.Optional(Type.Boolean({ description: 'true stops every key of the user at once' }))
}, { additionalProperties: false, minProperties: 1 })

export function pageOf<T extends TSchema> (item: T) {
  return Type.Object({
    items: Type.Array(item),
    nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'pass as ?cursor= for the next page; null on the last page' })
  })
}
/** A page of `T` as pageOf(…) puts it on the wire. */
export type Page<T> = Static<ReturnType<typeof pageOf<TUnsafe<T>>>>

const AccessRule = Type.Union([
  Type.Literal('everyone'),
  Type.Object({ users: Type.Array(Type.String()), groups: Type.Array(Type.String()), roles: Type.Array(Role) })
], { description: 'admins only: the access rule from config' })

export const McpServer = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  connectPath: Type.String({ description: 'path on the gateway, e.g. /mcp-connect/github' }),
  reachable: Type.Boolean({ description: 'whether the caller may scope a key to it now' }),
  access: Type.Optional(AccessRule)
})
export type McpServerView = Static<typeof McpServer>

const CatalogItem = {
  name: Type.String(),
  title: Type.Optional(Type.String()),
  description: Type.Optional(Type.String({ description: 'at most 1000 characters (longer ones are cut, ending with …)' }))
}

/** What an MCP server offers, as its live catalog answers, filtered by the caller's own permissions. */
export const McpServerCatalog = Type.Object({
  tools: Type.Array(Type.Object(CatalogItem)),
  prompts: Type.Array(Type.Object(CatalogItem)),
  resources: Type.Array(Type.Object({ uri: Type.String(), ...Type.Partial(Type.Object(CatalogItem)).properties })),
  resourceTemplates: Type.Array(Type.Object({ uriTemplate: Type.String(), ...Type.Partial(Type.Object(CatalogItem)).properties })),
  truncated: Type.Boolean({ description: 'true when a list was longer than the admin API reads (its pages or items bound): what is listed is a part' })
}, { title: 'McpServerCatalog' })
export type McpServerCatalogView = Static<typeof McpServerCatalog>

/** core/limits.ts LimitStatus: one limit now. */
export const LimitStatus = Type.Object({
  scope: Type.Union([Type.Literal('key'), Type.Literal('user')], { description: 'key: this key\'s own (or the default for keys); user: the owner\'s total across all of their keys' }),
  kind: Type.Union([Type.Literal('requests'), Type.Literal('toolCalls')], { description: 'requests a minute, or tool calls a UTC day' }),
  limit: Type.Integer(),
  remaining: Type.Integer({ description: 'left in this window; tokens a gateway replica holds and has not spent yet count as used' }),
  resetAt: DateTime('when the window ends')
}, { title: 'LimitStatus' })

export const Me = Type.Object({
  authMethod: Type.Union([Type.Literal('admin-token'), Type.Literal('oidc')]),
  role: Role,
  user: Type.Union([User, Type.Null()], { description: 'null for the bootstrap admin token' }),
  limits: Type.Array(LimitStatus, { description: 'the caller\'s totals across all of their keys (gateway.limits.perUser), with what is left ([] when none); a key\'s own limits are in its usage' })
})
export type MeView = Static<typeof Me>

export const Health = Type.Object({ status: Type.String() })

export const NoContent = Type.Null({ description: 'Done; no body' })

const Outcome = Type.Union([Type.Literal('allowed'), Type.Literal('denied'), Type.Literal('error')])

/** One event of the gateway's audit trail (core/audit.ts), its time as RFC 3339. */
export const AuditEvent = Type.Object({
  id: Type.String({ description: 'store id: events are listed newest first, by it' }),
  time: DateTime('when the request ended'),
  requestId: Type.String(),
  keyId: Type.Union([Type.String(), Type.Null()], { description: 'the key used, or only claimed by a refused request' }),
  userId: Type.Union([Type.String(), Type.Null()], { description: 'the key\'s owner, when the key was accepted' }),
  secretGeneration: Type.Optional(Type.Integer({ description: 'which of the key\'s secrets was used (0 before the first rotation), when the key was accepted' })),
  serverId: Type.Union([Type.String(), Type.Null()]),
  method: Type.String({ description: 'the JSON-RPC method; http:GET / http:DELETE for a stream or a session\'s end; unknown when the body was not read (a refusal before it)' }),
  name: Type.Optional(Type.String({ description: 'the tool or prompt name, or the resource URI' })),
  outcome: Outcome,
  code: Type.Optional(Type.String({ description: 'the MCPGATE_* code of a refusal or failure (MCPGATE_TOOL_NOT_ALLOWED: a call outside the key\'s or owner\'s tool rule)' })),
  status: Type.Integer({ description: 'HTTP status of the request (499: the client left first)' }),
  durationMs: Type.Number(),
  bytesIn: Type.Integer(),
  bytesOut: Type.Integer(),
  session: Type.Optional(Type.String({ description: 'a digest of the MCP session id (never the id)' })),
  ip: Type.String(),
  userAgent: Type.Optional(Type.String()),
  arguments: Type.Optional(Type.Unknown({ description: 'tool arguments, redacted, for servers with audit.arguments' }))
}, { title: 'AuditEvent' })
export type AuditEventView = Static<typeof AuditEvent>

export const AuditQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: PAGE_LIMIT_MAX, default: PAGE_LIMIT_DEFAULT })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  keyId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  userId: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'admins only' })),
  serverId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  outcome: Type.Optional(Outcome),
  since: Type.Optional(DateTime('from (inclusive)')),
  until: Type.Optional(DateTime('to (exclusive)'))
}, { additionalProperties: false })

const UsageBucket = Type.Object({
  start: DateTime('start of the hour or day (UTC)'),
  calls: Type.Integer(),
  denied: Type.Integer(),
  errors: Type.Integer()
})

/** A key's activity over the last 30 days, from the audit trail. */
export const KeyUsage = Type.Object({
  since: DateTime('start of the window'),
  hourly: Type.Array(UsageBucket),
  daily: Type.Array(UsageBucket),
  topTools: Type.Array(Type.Object({ name: Type.String(), calls: Type.Integer() }), { description: 'allowed tool calls by name, most first (at most 10)' }),
  lastUsed: Type.Union([Type.Object({ time: DateTime('the last allowed request'), ip: Type.String(), userAgent: Type.Union([Type.String(), Type.Null()]) }), Type.Null()]),
  limits: Type.Array(LimitStatus, { description: 'the key\'s rate limits and quotas now, with what is left ([] when none)' })
}, { title: 'KeyUsage' })
export type KeyUsageView = Static<typeof KeyUsage>
