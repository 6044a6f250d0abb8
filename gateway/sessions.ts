// MCP sessions bound to the key that created them. The upstream hands out a session id (Streamable
// HTTP's `Mcp-Session-Id` answer to `initialize`, or the `sessionId` in a legacy SSE stream's
// endpoint URL); the gateway records (server, session) → keyId in the store — shared by every
// replica, expiring after `gateway.sessions.idleTtlMs` without use — before the client sees the id.
// A request naming a session must come with that key: another key, or a session the gateway never
// saw, gets the answer the upstream gives an unknown session (404 JSON-RPC "Session not found").
// Cost: one store write when a session is created; checks come from an in-process cache, with a
// store read on a miss and a TTL refresh at most every quarter of the TTL.
import { createHash } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import { LRUCache } from 'lru-cache'
import type { Clock } from '../core/clock.ts'
import type { KeyStore } from '../core/store/store.ts'
import type { UpstreamExchange } from './upstream-exchange.ts'
import type { ExchangeObserver } from './upstream.ts'

export const SESSION_HEADER = 'mcp-session-id'
/** Query parameters legacy HTTP+SSE servers put the session in (the SDK's, and a common spelling). */
const LEGACY_PARAMS = ['sessionId', 'session_id']
/** Longer ids are not MCP session ids (the spec: visible ASCII; servers use UUIDs or similar). */
const MAX_SESSION_ID = 256

export type SessionVerdict = 'ok' | 'foreign' | 'unknown' | 'unavailable'

interface Binding {
  readonly keyId: string
  /** When this replica last refreshed the binding's TTL in the store (clock ms). */
  touchedAt: number
}

export interface SessionOptions {
  store: KeyStore
  clock: Clock
  idleTtlMs: number
  maxCached: number
  log: FastifyBaseLogger
}

/** The session a request names, or null: the `Mcp-Session-Id` header, or a legacy POST's query. */
export function sessionOf (headers: IncomingHttpHeaders, subPath: boolean, query: string): string | null {
  const header = headers[SESSION_HEADER]
  if (typeof header === 'string' && header !== '') return header.slice(0, MAX_SESSION_ID)
  if (!subPath || query === '') return null
  return legacySession(query)
}

export function legacySession (query: string): string | null {
  const params = new URLSearchParams(query)
  for (const name of LEGACY_PARAMS) {
    const value = params.get(name)
    if (value !== null && value !== '') return value.slice(0, MAX_SESSION_ID)
  }
  return null
}

/** The store holds a digest, not the id: a session id lets whoever has it act in the session. */
function storeId (serverId: string, sessionId: string): string {
  return createHash('sha256').update(`${serverId}\n${sessionId}`).digest('base64url')
}

export class SessionBindings implements ExchangeObserver {
  readonly #store: KeyStore
  readonly #clock: Clock
  readonly #ttlMs: number
  readonly #log: FastifyBaseLogger
  readonly #cache: LRUCache<string, Binding>

  constructor (options: SessionOptions) {
    this.#store = options.store
    this.#clock = options.clock
    this.#ttlMs = options.idleTtlMs
    this.#log = options.log
    this.#cache = new LRUCache({ max: options.maxCached })
  }

  /** May `keyId` use this session? From the cache when it can; a store read otherwise. */
  check (serverId: string, sessionId: string, keyId: string): SessionVerdict | Promise<SessionVerdict> {
    const local = `${serverId}\n${sessionId}`
    const known = this.#cache.get(local)
    if (known !== undefined) {
      if (known.keyId !== keyId) return 'foreign'
      const now = this.#clock.now()
      if (now - known.touchedAt > this.#ttlMs / 4) {
        known.touchedAt = now
        this.#store.touchSession(storeId(serverId, sessionId), this.#ttlMs).catch(() => {})
      }
      return 'ok'
    }
    return this.#store.getSession(storeId(serverId, sessionId), this.#ttlMs).then(owner => {
      if (owner === null) return 'unknown'
      this.#cache.set(local, { keyId: owner, touchedAt: this.#clock.now() })
      return owner === keyId ? 'ok' : 'foreign'
    }, () => 'unavailable' as const)
  }

  /** A new Streamable HTTP session in the answer: bound before the client sees its id. */
  responding (exchange: UpstreamExchange, status: number, headers: IncomingHttpHeaders): Promise<void> | null {
    const id = headers[SESSION_HEADER]
    if (typeof id !== 'string' || id === '' || status >= 300) return null
    const gate = exchange.request.gate
    // DELETE ends a session (MCP's session termination): its binding goes with it.
    if (exchange.request.method === 'DELETE') {
      this.#forget(exchange.server.id, id)
      return null
    }
    // The usual answer to a request in a session repeats its id: nothing new.
    if (gate.sessionId === id) return null
    return this.#bind(exchange, id)
  }

  /** A legacy SSE stream's endpoint event: its session is bound before the event goes out. */
  endpoint (exchange: UpstreamExchange, gatewayPath: string): Promise<void> | null {
    const q = gatewayPath.indexOf('?')
    const id = q < 0 ? null : legacySession(gatewayPath.slice(q + 1))
    return id === null ? null : this.#bind(exchange, id)
  }

  closed (exchange: UpstreamExchange): void {
    // A successful DELETE in a session whose answer carried no id ended it too.
    const gate = exchange.request.gate
    if (exchange.request.method === 'DELETE' && gate.sessionId !== null && gate.upstreamStatus >= 200 && gate.upstreamStatus < 300) {
      this.#forget(exchange.server.id, gate.sessionId)
    }
  }

  #bind (exchange: UpstreamExchange, sessionId: string): Promise<void> {
    const serverId = exchange.server.id
    const keyId = exchange.principal.keyId
    const local = `${serverId}\n${sessionId.slice(0, MAX_SESSION_ID)}`
    // This replica knows at once; the others through the store.
    this.#cache.set(local, { keyId, touchedAt: this.#clock.now() })
    return this.#store.bindSession(storeId(serverId, sessionId.slice(0, MAX_SESSION_ID)), keyId, this.#ttlMs).then(owner => {
      if (owner === keyId) return
      // The upstream handed out an id already bound to another key (it reused one): the first
      // binding stands, and this client will be refused in it.
      this.#cache.set(local, { keyId: owner, touchedAt: this.#clock.now() })
      this.#log.warn({ serverId, keyId }, 'the upstream handed out an MCP session id that is bound to another key; the client will be refused in that session')
    }, (err: unknown) => {
      this.#log.warn({ serverId, keyId, err }, 'could not record the MCP session binding in the store; the session works on this replica only')
    })
  }

  #forget (serverId: string, sessionId: string): void {
    this.#cache.delete(`${serverId}\n${sessionId}`)
    this.#store.deleteSession(storeId(serverId, sessionId)).catch(() => {})
  }

  /** Logged once per refusal: a key used another key's session (a leaked or guessed session id). */
  static refusedLine (request: FastifyRequest, verdict: SessionVerdict): void {
    const gate = request.gate
    if (verdict === 'foreign') {
      request.log.warn({ serverId: gate.server?.id, keyId: gate.principal?.keyId, userId: gate.principal?.userId, ip: gate.ip },
        'MCP session used with a key other than the one that created it; refused as "Session not found"')
    } else {
      request.log.debug({ serverId: gate.server?.id }, 'unknown MCP session; refused as "Session not found"')
    }
  }
}
