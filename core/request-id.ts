// Request ids for both services: a caller's `X-Request-Id` is kept when it is well-formed, so a
// trace can cross a load balancer into mcpgate; anything else gets a fresh random UUID.
import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

/**
 * 1–128 characters that cannot break a log line, a header or a JSON string: no spaces, quotes,
 * control characters or newlines (a forged id could otherwise inject fake log entries).
 */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/

export const REQUEST_ID_HEADER = 'x-request-id'

/** Fastify `genReqId`: the caller's id when valid, else crypto.randomUUID(). */
export function requestId (req: IncomingMessage): string {
  const given = req.headers[REQUEST_ID_HEADER]
  return typeof given === 'string' && REQUEST_ID_PATTERN.test(given) ? given : randomUUID()
}
