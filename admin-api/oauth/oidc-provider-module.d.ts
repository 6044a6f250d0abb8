// Minimal types for the parts of the oidc-provider package (it ships none) that mcpgate's
// authorization server (admin-api/oauth/) and the test IdP (test/helpers/oidc-provider.ts) use.
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http'

  export type AdapterPayload = Record<string, unknown> & { uid?: string, userCode?: string, grantId?: string, consumed?: number }

  export interface Adapter {
    upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void>
    find(id: string): Promise<AdapterPayload | undefined>
    findByUid(uid: string): Promise<AdapterPayload | undefined>
    findByUserCode(userCode: string): Promise<AdapterPayload | undefined>
    consume(id: string): Promise<void>
    destroy(id: string): Promise<void>
    revokeByGrantId(grantId: string): Promise<void>
  }

  export type ClientMetadata = Record<string, unknown> & { client_id: string }

  export interface Grant {
    jti: string
    accountId: string
    clientId: string
    /** Resource indicator → its granted scopes ("mcp"). */
    resources?: Record<string, string>
    addOIDCScope(scope: string): void
    addResourceScope(resource: string, scope: string): void
    save(ttl?: number): Promise<string>
    destroy(): Promise<void>
  }

  export interface Client {
    clientId: string
    clientName?: string
    redirectUris: string[]
    grantTypeAllowed(type: string): boolean
    metadata(): Record<string, unknown>
  }

  export interface Interaction {
    uid: string
    prompt: { name: string, reasons: string[], details: Record<string, unknown> }
    params: Record<string, unknown>
    session?: { accountId?: string }
    grantId?: string
    returnTo: string
    exp: number
    lastSubmission?: Record<string, unknown>
    result?: unknown
  }

  export interface BaseToken {
    kind: string
    jti: string
    grantId?: string
    accountId?: string
    clientId: string
    aud?: string | string[]
    scope?: string
    client?: Client
  }

  export interface KoaContextWithOIDC {
    method: string
    path: string
    req: IncomingMessage
    /** Sets a response header (Koa). */
    set(name: string, value: string): void
    oidc: {
      session?: { accountId?: string, grantIdFor(clientId: string): string | undefined }
      client?: Client
      params?: Record<string, unknown>
      body?: Record<string, unknown>
      result?: { consent?: { grantId?: string } }
      provider: Provider
      route?: string
    }
  }

  export interface Account {
    accountId: string
    claims(): Promise<Record<string, unknown>>
  }

  export interface ResourceServer {
    scope: string
    audience?: string
    accessTokenTTL?: number
    accessTokenFormat?: 'opaque' | 'jwt'
    jwt?: { sign?: { alg: string } }
  }

  export interface Configuration {
    adapter?: (name: string) => Adapter
    clients?: ClientMetadata[]
    jwks?: { keys: Array<Record<string, unknown>> }
    cookies?: { keys: string[], long?: Record<string, unknown>, short?: Record<string, unknown> }
    features?: Record<string, unknown>
    claims?: Record<string, string[]>
    scopes?: string[]
    conformIdTokenClaims?: boolean
    pkce?: { required?: (ctx: KoaContextWithOIDC, client: Client) => boolean }
    ttl?: Record<string, number | ((ctx: KoaContextWithOIDC, token: BaseToken, client: Client) => number)>
    routes?: Record<string, string>
    interactions?: { url: (ctx: KoaContextWithOIDC, interaction: Interaction) => string }
    findAccount?: (ctx: KoaContextWithOIDC, sub: string) => Promise<Account | undefined>
    issueRefreshToken?: (ctx: KoaContextWithOIDC, client: Client) => Promise<boolean>
    rotateRefreshToken?: boolean | ((ctx: KoaContextWithOIDC) => boolean)
    expiresWithSession?: (ctx: KoaContextWithOIDC) => Promise<boolean>
    loadExistingGrant?: (ctx: KoaContextWithOIDC) => Promise<Grant | undefined>
    extraTokenClaims?: (ctx: KoaContextWithOIDC, token: BaseToken) => Promise<Record<string, unknown> | undefined>
    renderError?: (ctx: KoaContextWithOIDC & { type: string, body: unknown }, out: Record<string, string>, error: Error) => Promise<void>
    responseTypes?: string[]
    clientDefaults?: Record<string, unknown>
    clientAuthMethods?: string[]
    fetch?: (url: string | URL, options: RequestInit) => Promise<Response>
    enabledJWA?: Record<string, string[]>
    allowOmittingSingleRegisteredRedirectUri?: boolean
  }

  export class OIDCProviderError extends Error {
    status: number
    statusCode: number
    /** Whether the error and its description are shown to the client (else "server_error"). */
    expose: boolean
    error: string
    error_description?: string
  }

  export const errors: {
    InvalidGrant: new (description?: string) => OIDCProviderError
    InvalidTarget: new (description?: string) => OIDCProviderError
    InvalidClient: new (description?: string) => OIDCProviderError
    AccessDenied: new (description?: string) => OIDCProviderError
    TemporarilyUnavailable: new (description?: string) => OIDCProviderError
  }

  export default class Provider {
    constructor (issuer: string, configuration?: Configuration)
    static readonly ctx: KoaContextWithOIDC | undefined
    readonly issuer: string
    proxy: boolean
    Grant: {
      new (init: { jti?: string, clientId: string, accountId: string }): Grant
      find(id: string): Promise<Grant | undefined>
    }

    Client: {
      find(id: string): Promise<Client | undefined>
    }

    Interaction: {
      find(id: string): Promise<Interaction | undefined>
    }
    on (event: string, listener: (...args: any[]) => void): this
    callback (): (req: IncomingMessage, res: ServerResponse) => void
    interactionDetails (req: IncomingMessage, res: ServerResponse): Promise<Interaction>
    interactionResult (req: IncomingMessage, res: ServerResponse, result: Record<string, unknown>, options?: { mergeWithLastSubmission?: boolean }): Promise<string>
  }
}
