// Open exchanges die with their key. Every upstream exchange (a GET stream, a POST's streamed
// answer, a tool call still waiting) is filed under the key that opened it. When the key may no
// longer reach that server — deleted, expired (at `expiresAt`, on the clock), owner disabled or
// out of the server's access rule, scope changed, the server gone from the config — the exchange
// is cut: an SSE stream ends cleanly, a waiting call is answered as a new request would be, and
// the upstream request is aborted. Invalidation events reach every replica, so a key deleted
// anywhere ends its streams everywhere within the revocation budget.
import type { FastifyBaseLogger, FastifyError } from 'fastify'
import { scopeIncludes, userCanReach } from '../core/access.ts'
import { scheduleAt, type Clock } from '../core/clock.ts'
import { errors } from '../core/errors.ts'
import type { ApiKeyRecord, KeyStore, User } from '../core/store/store.ts'
import type { ServerRegistry } from './registry.ts'
import type { UpstreamExchange } from './upstream-exchange.ts'
import type { ExchangeObserver } from './upstream.ts'

/** Why an exchange was cut: a closed set (a metric label). */
export type CutReason = 'key_deleted' | 'key_expired' | 'key_rotated' | 'owner_disabled' | 'access_lost' | 'server_removed'

/** The exchanges of one key opened with one of its secrets (a rotation makes a new one). */
interface KeyGroup {
  readonly keyId: string
  readonly secretGeneration: number
  readonly userId: string
  readonly exchanges: Set<UpstreamExchange>
  expiresAt: number | null
  cancelExpiry: (() => void) | null
}

export interface RevocationOptions {
  store: KeyStore
  clock: Clock
  registry: ServerRegistry
  log: FastifyBaseLogger
  /** Told every cut (metrics). */
  onCut?: (reason: CutReason, serverId: string) => void
}

/** Store reads at once when every open key must be checked (a resubscribe, an `all` event). */
const CHECK_CONCURRENCY = 16

export class Revocation implements ExchangeObserver {
  readonly #options: RevocationOptions
  readonly #groups = new Map<string, KeyGroup>()
  /** Keys being checked, and whether another check was asked for meanwhile. */
  readonly #checking = new Map<string, { again: boolean }>()

  constructor (options: RevocationOptions) {
    this.#options = options
  }

  /** Open exchanges (tests, metrics). */
  get size (): number {
    let n = 0
    for (const g of this.#groups.values()) n += g.exchanges.size
    return n
  }

  opened (exchange: UpstreamExchange): void {
    const { keyId, userId, expiresAt, secretGeneration } = exchange.principal
    const id = groupId(keyId, secretGeneration)
    let group = this.#groups.get(id)
    if (group === undefined) {
      group = { keyId, secretGeneration, userId, exchanges: new Set(), expiresAt: null, cancelExpiry: null }
      this.#groups.set(id, group)
      this.#expireAt(group, expiresAt)
    }
    group.exchanges.add(exchange)
  }

  closed (exchange: UpstreamExchange): void {
    const id = groupId(exchange.principal.keyId, exchange.principal.secretGeneration)
    const group = this.#groups.get(id)
    if (group === undefined) return
    group.exchanges.delete(exchange)
    if (group.exchanges.size > 0) return
    group.cancelExpiry?.()
    this.#groups.delete(id)
  }

  /** The key's record changed or went (an invalidation event: deleted, rotated…). */
  keyChanged (keyId: string): void {
    for (const group of this.#groups.values()) {
      if (group.keyId === keyId) {
        this.#check(keyId)
        return
      }
    }
  }

  /** The owner's state changed (disabled, role, groups, deleted). */
  userChanged (userId: string): void {
    for (const group of this.#groups.values()) if (group.userId === userId) this.#check(group.keyId)
  }

  /** Events may have been lost (a resubscribe) or everything changed: check every open key. */
  everything (): void {
    const keys = [...new Set([...this.#groups.values()].map(g => g.keyId))]
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < keys.length) await this.#check(keys[next++] as string)
    }
    for (let i = 0; i < Math.min(CHECK_CONCURRENCY, keys.length); i++) worker().catch(() => {})
  }

  /** After a config reload: servers removed or access rules changed (the owners' cached state decides). */
  reloaded (): void {
    const { registry } = this.#options
    for (const group of this.#groups.values()) {
      for (const exchange of [...group.exchanges]) {
        const server = registry.get(exchange.server.id)
        if (server === undefined) this.#cut(exchange, 'server_removed')
        else if (!userCanReach(server.config.access, exchange.principal.user)) this.#cut(exchange, 'access_lost')
      }
    }
  }

  #expireAt (group: KeyGroup, expiresAt: number | null): void {
    if (group.expiresAt === expiresAt) return
    group.cancelExpiry?.()
    group.cancelExpiry = null
    group.expiresAt = expiresAt
    if (expiresAt === null) return
    group.cancelExpiry = scheduleAt(this.#options.clock, expiresAt, () => {
      group.cancelExpiry = null
      for (const exchange of [...group.exchanges]) this.#cut(exchange, 'key_expired')
    })
  }

  /** One store read for the key (single-flight; asked again meanwhile → once more after). */
  async #check (keyId: string): Promise<void> {
    const running = this.#checking.get(keyId)
    if (running !== undefined) {
      running.again = true
      return
    }
    const state = { again: false }
    this.#checking.set(keyId, state)
    try {
      do {
        state.again = false
        let found: { key: ApiKeyRecord, owner: User } | null
        try {
          found = await this.#options.store.getKeyWithOwner(keyId)
        } catch {
          // The store is down: the streams stay (cached keys are served in the grace window too);
          // the resubscribe after the outage checks every open key again.
          return
        }
        this.#apply(keyId, found)
      } while (state.again)
    } finally {
      this.#checking.delete(keyId)
    }
  }

  #apply (keyId: string, found: { key: ApiKeyRecord, owner: User } | null): void {
    for (const group of [...this.#groups.values()]) if (group.keyId === keyId) this.#applyTo(group, found)
  }

  #applyTo (group: KeyGroup, found: { key: ApiKeyRecord, owner: User } | null): void {
    const exchanges = [...group.exchanges]
    if (found === null || found.key.userId !== group.userId || found.owner.id !== group.userId) {
      for (const exchange of exchanges) this.#cut(exchange, 'key_deleted')
      return
    }
    const { key, owner } = found
    const now = this.#options.clock.now()
    if (key.expiresAt !== null && key.expiresAt <= now) {
      for (const exchange of exchanges) this.#cut(exchange, 'key_expired')
      return
    }
    // Rotations: the current secret, or the previous one until its overlap ends; anything older is gone.
    const current = key.secretGeneration ?? 0
    let until = key.expiresAt
    if (group.secretGeneration !== current) {
      const overlap = group.secretGeneration === current - 1 && key.previousUntil !== undefined && key.previousUntil > now
      if (!overlap) {
        for (const exchange of exchanges) this.#cut(exchange, 'key_rotated')
        return
      }
      until = Math.min(key.previousUntil as number, key.expiresAt ?? Infinity)
    }
    if (owner.disabled) {
      for (const exchange of exchanges) this.#cut(exchange, 'owner_disabled')
      return
    }
    this.#expireAt(group, until)
    for (const exchange of exchanges) {
      const server = this.#options.registry.get(exchange.server.id)
      if (server === undefined) this.#cut(exchange, 'server_removed')
      else if (!scopeIncludes(key.mcpServerIds, server.id) || !userCanReach(server.config.access, owner)) this.#cut(exchange, 'access_lost')
    }
  }

  #cut (exchange: UpstreamExchange, reason: CutReason): void {
    const serverId = exchange.server.id
    if (!exchange.cut(reason, refusalFor(reason, serverId))) return
    const { keyId, userId } = exchange.principal
    this.#options.log.info({ keyId, userId, serverId, reason, stream: exchange.stream }, 'open exchange ended: its key may no longer reach this server')
    this.#options.onCut?.(reason, serverId)
  }
}

function groupId (keyId: string, secretGeneration: number): string {
  return `${keyId}\n${secretGeneration}`
}

/** What a request still waiting for its answer gets: what the same request would get now. */
function refusalFor (reason: CutReason, serverId: string): FastifyError {
  switch (reason) {
    case 'key_deleted': return new errors.KeyInvalid()
    case 'key_rotated': return new errors.KeyInvalid()
    case 'key_expired': return new errors.KeyExpired()
    case 'owner_disabled': return new errors.OwnerDisabled()
    default: return new errors.ServerNotFound(serverId)
  }
}
