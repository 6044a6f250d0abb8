// Every mcpgate error, declared once: stable MCPGATE_* code, HTTP status and message.
// Expected outcomes of a request (unknown key, expired, out of scope) are values elsewhere;
// these are what finally goes on the wire. `test/core/errors.test.ts` checks codes are unique.
import createError from '@fastify/error'

function define (code: string, message: string, statusCode: number) {
  return createError(`MCPGATE_${code}`, message, statusCode)
}

/**
 * An expected refusal (bad key, out of scope, rate limited, overloaded…): the answer to a client,
 * not a fault, so no stack trace is captured. A flood of bad keys creates one per request, and the
 * capture (5–9 µs each, a few % of the event loop at 500 refusals/s) bought nothing: only
 * MCPGATE_INTERNAL errors are ever logged with their stack (gateway/reply-error.ts).
 */
function refusal (code: string, message: string, statusCode: number) {
  return createError(`MCPGATE_${code}`, message, statusCode, Error, false)
}

export const errors = {
  // gateway: authentication (401)
  KeyMissing: refusal('KEY_MISSING', 'An API key is required', 401),
  KeyMalformed: refusal('KEY_MALFORMED', 'The API key is malformed', 401),
  KeyInvalid: refusal('KEY_INVALID', 'The API key is not valid', 401),
  KeyExpired: refusal('KEY_EXPIRED', 'The API key has expired', 401),
  OwnerDisabled: refusal('OWNER_DISABLED', 'The owner of this API key is disabled', 401),
  // gateway: the only 403s (a key or owner that may not reach a server gets ServerNotFound: 404)
  OriginForbidden: refusal('ORIGIN_FORBIDDEN', 'Origin "%s" is not allowed', 403),
  // OAuth mode: a valid access token for this endpoint whose grant does not reach it (RFC 6750 §3.1)
  InsufficientScope: refusal('INSUFFICIENT_SCOPE', 'This access token\'s grant does not reach MCP server "%s"; authorize again and include it', 403),
  // gateway: routing
  ServerIdInvalid: refusal('SERVER_ID_INVALID', 'The MCP server id in the path is not a valid id', 400),
  ServerNotFound: refusal('SERVER_NOT_FOUND', 'MCP server "%s" not found', 404),
  RouteNotFound: refusal('ROUTE_NOT_FOUND', 'Route %s %s not found', 404),
  OAuthNotEnabled: refusal('OAUTH_NOT_ENABLED', 'This gateway does not run OAuth', 404),
  // gateway: MCP sessions (sessions.ts): another key's session, or one the gateway never saw
  SessionNotFound: refusal('SESSION_NOT_FOUND', 'Session not found', 404),
  // gateway: guards and availability
  RateLimited: refusal('RATE_LIMITED', 'Too many requests: %s', 429),
  Overloaded: refusal('OVERLOADED', 'Too many key verifications in progress; retry shortly', 503),
  StoreUnavailable: refusal('STORE_UNAVAILABLE', 'The key store is unavailable; retry shortly', 503),
  ShuttingDown: define('SHUTTING_DOWN', 'The server is shutting down', 503),
  // gateway: upstream failures, mapped in one place (gateway/upstream-errors.ts)
  UpstreamAuthFailed: define('UPSTREAM_AUTH_FAILED', 'The upstream MCP server refused the gateway\'s credentials (status %s)', 502),
  UpstreamUnreachable: define('UPSTREAM_UNREACHABLE', 'The upstream MCP server could not be reached', 502),
  UpstreamConnectTimeout: define('UPSTREAM_CONNECT_TIMEOUT', 'Timed out connecting to the upstream MCP server', 503),
  UpstreamTimeout: define('UPSTREAM_TIMEOUT', 'The upstream MCP server did not answer in time', 504),
  UpstreamBusy: refusal('UPSTREAM_BUSY', 'MCP server "%s" has as many open streams or requests through this gateway as it may; retry shortly', 503),
  // admin API
  Unauthenticated: define('UNAUTHENTICATED', 'Authentication required: admin token or OIDC bearer token', 401),
  TokenInvalid: define('TOKEN_INVALID', 'The bearer token is not valid', 401),
  ApiKeyNotAccepted: define('API_KEY_NOT_ACCEPTED', 'API keys are accepted only by the gateway, not by the admin API', 401),
  Forbidden: define('FORBIDDEN', 'Admin role required', 403),
  ValidationFailed: define('VALIDATION_FAILED', '%s', 400),
  McpServerNotFound: define('MCP_SERVER_NOT_FOUND', 'MCP server "%s" not found', 400),
  ApiKeyNotFound: define('API_KEY_NOT_FOUND', 'API key "%s" not found', 404),
  UserNotFound: define('USER_NOT_FOUND', 'User "%s" not found', 404),
  KeyLimitReached: define('KEY_LIMIT_REACHED', 'User already has the maximum of %s API keys', 409),
  EmailTaken: define('EMAIL_TAKEN', 'A user with email "%s" already exists', 409),
  UserDisabled: define('USER_DISABLED', 'This user account is disabled', 403),
  NoUserAccount: define('NO_USER_ACCOUNT', 'The bootstrap admin token has no user account to own keys; use POST /api/users/{id}/api-keys', 403),
  OAuthInteractionNotFound: define('OAUTH_INTERACTION_NOT_FOUND', 'This authorization request is unknown, expired or was started in another browser; start again from the client', 404),
  OAuthGrantNotRotatable: define('OAUTH_GRANT_NOT_ROTATABLE', 'API key "%s" is an OAuth grant: it has no secret to rotate (its client renews its tokens itself)', 409),
  IdentityProviderUnavailable: define('IDP_UNAVAILABLE', 'The identity provider could not be reached to verify the token; retry shortly', 503),
  BadRequest: define('BAD_REQUEST', '%s', 400),
  Internal: define('INTERNAL', 'Internal server error', 500),
  // gateway (appended)
  // gateway: per-tool scopes read the request (gateway/tool-enforcement.ts); JSON-RPC codes in reply-error.ts
  RequestTooLarge: refusal('REQUEST_TOO_LARGE', 'A request to an MCP server this key may use only in part can be at most %s bytes', 413),
  McpParseError: refusal('MCP_PARSE_ERROR', 'Parse error: the request body is not JSON', 400),
  McpInvalidRequest: refusal('MCP_INVALID_REQUEST', 'Invalid Request: %s', 400),
  McpHeaderMismatch: refusal('MCP_HEADER_MISMATCH', '%s', 400),
  TooManyHeaders: refusal('TOO_MANY_HEADERS', 'The request has more than %s header fields', 431),
  PathInvalid: refusal('PATH_INVALID', 'The path after the MCP server id is not allowed (encoded separators, dot segments or empty segments)', 400),
  // admin API: OIDC sign-in (appended)
  EmailNotVerified: define('EMAIL_NOT_VERIFIED', 'The identity provider does not say that this email address is verified; an account is created or linked by verified email only', 403),
  IdentityConflict: define('IDENTITY_CONFLICT', 'The account with this email address is linked to another identity at the identity provider', 403),
  ServiceAccountSignIn: define('SERVICE_ACCOUNT_NO_SIGN_IN', 'The account with this email address is a service account: it never signs in (its keys are made by an admin)', 403),
  // admin API: GET /api/mcp-servers/:id/catalog lists an upstream as an MCP client (admin-api/catalog.ts)
  CatalogUnavailable: define('CATALOG_UNAVAILABLE', 'The tools, prompts and resources of MCP server "%s" could not be listed: %s', 502),
  // admin API: user changes that would lock the console out or be undone at the next sign-in
  LastAdmin: define('LAST_ADMIN', 'User "%s" is the last enabled admin: disabling, demoting or deleting them would leave no user who can administer mcpgate in the console (the bootstrap admin token still works where one is set); make another user an admin first', 409),
  RoleFromIdpGroup: define('ROLE_FROM_IDP_GROUP', 'User "%s" is an admin through identity provider group "%s" (admin.oidc.adminGroups): the next sign-in would make them an admin again; remove them from the group at the identity provider instead', 409)
} as const

export type McpgateErrorName = keyof typeof errors

/** Thrown by stores when the backing service cannot be reached or times out. */
export class StoreUnavailableError extends Error {
  readonly code = 'MCPGATE_STORE_UNAVAILABLE'
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'StoreUnavailableError'
  }
}

/** Thrown by stores when a unique constraint (user email) would be violated. */
export class StoreConflictError extends Error {
  readonly code = 'MCPGATE_STORE_CONFLICT'
  constructor (message: string, readonly field: string) {
    super(message)
    this.name = 'StoreConflictError'
  }
}
