// A real OpenID provider for browser tests (the oidc-provider package) on 127.0.0.1:0: discovery,
// authorization code + PKCE for public clients, a login form (devInteractions: any password),
// consent granted automatically, and ID tokens carrying email, name and a `groups` claim.
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair } from 'jose'
import Provider, { type Adapter, type AdapterPayload, type ClientMetadata, type KoaContextWithOIDC } from 'oidc-provider'
import type { Test } from 'tap'

export interface TestAccount {
  email: string
  name: string
  groups: string[]
}

export interface TestOidcProvider {
  /** e.g. http://127.0.0.1:41234 (no trailing slash), as the discovery document names it. */
  issuer: string
  /** Registers a client; public clients (token_endpoint_auth_method none) must use PKCE. */
  addClient: (metadata: ClientMetadata) => void
}

/** oidc-provider's storage seam, kept in one Map per provider so that clients can be added live. */
class MapAdapter implements Adapter {
  constructor (private readonly model: string, private readonly store: Map<string, AdapterPayload>) {}
  private key (id: string): string { return `${this.model}:${id}` }

  async upsert (id: string, payload: AdapterPayload): Promise<void> {
    this.store.set(this.key(id), payload)
    if (typeof payload.uid === 'string') this.store.set(`uid:${payload.uid}`, { id } as AdapterPayload)
    if (typeof payload.userCode === 'string') this.store.set(`userCode:${payload.userCode}`, { id } as AdapterPayload)
  }

  async find (id: string): Promise<AdapterPayload | undefined> { return this.store.get(this.key(id)) }

  async findByUid (uid: string): Promise<AdapterPayload | undefined> {
    const ref = this.store.get(`uid:${uid}`) as { id?: string } | undefined
    return ref?.id === undefined ? undefined : this.find(ref.id)
  }

  async findByUserCode (userCode: string): Promise<AdapterPayload | undefined> {
    const ref = this.store.get(`userCode:${userCode}`) as { id?: string } | undefined
    return ref?.id === undefined ? undefined : this.find(ref.id)
  }

  async consume (id: string): Promise<void> {
    const payload = this.store.get(this.key(id))
    if (payload !== undefined) payload.consumed = Math.floor(Date.now() / 1000)
  }

  async destroy (id: string): Promise<void> { this.store.delete(this.key(id)) }

  async revokeByGrantId (grantId: string): Promise<void> {
    for (const [key, payload] of this.store) if (payload.grantId === grantId) this.store.delete(key)
  }
}

export async function startOidcProvider (t: Test, accounts: Record<string, TestAccount>): Promise<TestOidcProvider> {
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | null = null
  const server = createServer((req, res) => {
    if (handler === null) {
      res.statusCode = 503
      res.end()
      return
    }
    handler(req, res)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => {
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  const { privateKey } = await generateKeyPair('RS256', { extractable: true })
  const signingKey = { ...await exportJWK(privateKey), kid: 'test-key-1', alg: 'RS256', use: 'sig' }
  const storage = new Map<string, AdapterPayload>()

  const provider = new Provider(issuer, {
    adapter: (name: string) => new MapAdapter(name, storage),
    clients: [],
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    features: { devInteractions: { enabled: true } },
    // The console's scopes are the standard ones; groups ride along with `profile`, as many IdPs
    // can be configured to do.
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'groups'] },
    // Put the scope's claims in the ID token too (the console sends the ID token to the admin API).
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    // Like Keycloak: clients allowed the refresh_token grant get a refresh token without offline_access.
    issueRefreshToken: async (_ctx: KoaContextWithOIDC, client: { grantTypeAllowed: (type: string) => boolean }) => client.grantTypeAllowed('refresh_token'),
    ttl: { IdToken: 600, AccessToken: 600, AuthorizationCode: 60, Session: 3600, Interaction: 600, Grant: 3600 },
    async findAccount (_ctx: KoaContextWithOIDC, sub: string) {
      const account = accounts[sub]
      if (account === undefined) return undefined
      return {
        accountId: sub,
        async claims () {
          return { sub, email: account.email, email_verified: true, name: account.name, groups: [...account.groups] }
        }
      }
    },
    // Every test client is first-party: grant what it asks for instead of showing a consent page.
    async loadExistingGrant (ctx: KoaContextWithOIDC) {
      const { oidc } = ctx
      const session = oidc.session
      const client = oidc.client
      if (session === undefined || client === undefined) return undefined
      const existing = oidc.result?.consent?.grantId ?? session.grantIdFor(client.clientId)
      if (existing !== undefined) return await oidc.provider.Grant.find(existing)
      const grant = new oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId as string })
      grant.addOIDCScope(String(oidc.params?.scope ?? 'openid'))
      await grant.save()
      return grant
    }
  })
  // oidc-provider prints development warnings on stderr; keep test output readable.
  provider.on('server_error', (_ctx: unknown, err: Error) => { t.comment(`oidc-provider server_error: ${err.message}`) })
  handler = provider.callback()

  return {
    issuer,
    addClient: (metadata) => {
      storage.set(`Client:${String(metadata.client_id)}`, metadata as unknown as AdapterPayload)
    }
  }
}
