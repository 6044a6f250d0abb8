// Minimal types for the parts of the oidc-provider package (it ships none) that
// test/helpers/oidc-provider.ts uses.
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
    addOIDCScope(scope: string): void
    save(): Promise<string>
  }

  export interface KoaContextWithOIDC {
    oidc: {
      session?: { accountId?: string, grantIdFor(clientId: string): string | undefined }
      client?: { clientId: string }
      params?: Record<string, unknown>
      result?: { consent?: { grantId?: string } }
      provider: Provider
    }
  }

  export interface Account {
    accountId: string
    claims(): Promise<Record<string, unknown>>
  }

  export interface Configuration {
    adapter?: (name: string) => Adapter
    clients?: ClientMetadata[]
    jwks?: { keys: Array<Record<string, unknown>> }
    cookies?: { keys: string[] }
    features?: Record<string, unknown>
    claims?: Record<string, string[]>
    conformIdTokenClaims?: boolean
    pkce?: { required?: () => boolean }
    ttl?: Record<string, number>
    findAccount?: (ctx: KoaContextWithOIDC, sub: string) => Promise<Account | undefined>
    issueRefreshToken?: (ctx: KoaContextWithOIDC, client: { grantTypeAllowed(type: string): boolean }) => Promise<boolean>
    loadExistingGrant?: (ctx: KoaContextWithOIDC) => Promise<Grant | undefined>
  }

  export default class Provider {
    constructor (issuer: string, configuration?: Configuration)
    Grant: {
      new (init: { clientId: string, accountId: string }): Grant
      find(id: string): Promise<Grant | undefined>
    }
    on (event: string, listener: (...args: any[]) => void): this
    callback (): (req: IncomingMessage, res: ServerResponse) => void
  }
}
