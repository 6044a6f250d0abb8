// The one record of a gateway request (`request.gate`): each stage of the pipeline writes its facts
// into it once — authentication, authorization, the upstream hop, the error path — and what comes
// after (the access line, metrics, and next audit and limits) only reads it. Nothing re-derives a
// fact at the end: the key is parsed once, the URL checked once.
// A second write of the same fact is a bug in the pipeline, not a request's fault: it throws.
import type { Socket } from 'node:net'
import type { EffectiveRule } from '../core/tool-scope.ts'
import type { Principal } from './auth.ts'
import type { McpCall } from './mcp-filter.ts'
import type { RegisteredServer } from './registry.ts'

/** How an accepted key was checked: fresh cache entry, cheap store revalidation, argon2, or grace. */
export type AuthVia = 'cache' | 'revalidated' | 'verified' | 'grace'

/** Why a key was refused a server it named. */
export type Denial = 'out_of_scope' | 'access_denied'

/** Where a proxied request goes: the upstream path (with the merged query) on the server's origin. */
export interface UpstreamTarget {
  /** `/a/mcp?tenant=x&…`: path and query as sent upstream. */
  readonly path: string
  /** `/mcp-connect/<id>/<rest>` was asked for (the legacy `/messages` of an SSE server), not the endpoint itself. */
  readonly subPath: boolean
}

export class GateRecord {
  /** The connection, kept for the byte counts: once a proxied response is done, request.raw.socket is gone. */
  readonly socket: Socket | null
  /** The client address (request.ip, after trustProxy). */
  readonly ip: string
  /** A configured server id from the route, or null (unknown ids never become labels). */
  readonly routeServerId: string | null

  // authentication
  #keyChecked = false
  /** Something meant as a key was sent (for `error="invalid_token"`). */
  keySent = false
  /** The keyId of a well-formed key, accepted or not (not secret: tells which client keeps failing). */
  claimedKeyId: string | null = null
  /** OAuth mode: an access token was sent, not a key (its refusals speak RFC 6750 to the client). */
  tokenSent = false
  principal: Principal | null = null
  authVia: AuthVia | null = null

  // authorization
  server: RegisteredServer | null = null
  target: UpstreamTarget | null = null
  /** What of the server's tools, resources and prompts the request may use; null: all (tool-rules.ts). */
  rule: EffectiveRule | null = null
  /** Why the key was refused the server it named (the access line tells them apart; the wire does not). */
  denied: Denial | null = null
  /** The MCP session the request names (`Mcp-Session-Id`, or a legacy SSE `sessionId`), once checked. */
  sessionId: string | null = null

  // the upstream hop
  /** The request's JSON-RPC messages, when its body was read (a tool scope, the audit trail). */
  calls: McpCall[] | null = null
  /** Status the upstream answered with (0: no answer). */
  upstreamStatus = 0
  /** The response is a relayed text/event-stream. */
  stream = false
  /** Why the gateway ended the exchange early (revocation, shutdown), or null. */
  cutReason: string | null = null

  // the error path
  /** The MCPGATE_* code the request was answered with. */
  code: string | null = null

  constructor (socket: Socket | null, ip: string, routeServerId: string | null) {
    this.socket = socket
    this.ip = ip
    this.routeServerId = routeServerId
  }

  /** Authentication looked at the headers: what was sent, and the keyId if the key was well-formed. */
  keyPresented (sent: boolean, claimedKeyId: string | null): void {
    if (this.#keyChecked) twice('the presented key')
    this.#keyChecked = true
    this.keySent = sent
    this.claimedKeyId = claimedKeyId
  }

  /** OAuth mode: an access token was sent instead of a key. */
  tokenPresented (): void {
    this.keyPresented(true, null)
    this.tokenSent = true
  }

  authenticated (principal: Principal, via: AuthVia): void {
    if (this.principal !== null) twice('the principal')
    this.principal = principal
    this.authVia = via
  }

  authorized (server: RegisteredServer, target: UpstreamTarget): void {
    if (this.server !== null) twice('the server')
    this.server = server
    this.target = target
  }

  restrict (rule: EffectiveRule): void {
    if (this.rule !== null) twice('the tool rule')
    this.rule = rule
  }

  deny (why: Denial): void {
    if (this.denied !== null) twice('the denial')
    this.denied = why
  }

  inSession (sessionId: string): void {
    if (this.sessionId !== null) twice('the session')
    this.sessionId = sessionId
  }

  described (calls: McpCall[]): void {
    if (this.calls !== null) twice('the calls')
    this.calls = calls
  }

  upstreamAnswered (status: number, stream: boolean): void {
    if (this.upstreamStatus !== 0) twice('the upstream status')
    this.upstreamStatus = status
    this.stream = stream
  }

  cut (reason: string): void {
    if (this.cutReason !== null) twice('the cut')
    this.cutReason = reason
  }

  failed (code: string): void {
    if (this.code !== null) twice('the error code')
    this.code = code
  }
}

function twice (what: string): never {
  throw new Error(`request record: ${what} written twice`)
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's record, made by the first hook of every request (access-log.ts). */
    gate: GateRecord
  }
}
