// Every upstream failure is mapped here, in one place: connect timeout → 503, response headers
// timeout → 504, any other connection failure → 502, and an upstream 401/403 (the gateway's own
// upstream credential failed) → 502 — never relayed, its WWW-Authenticate would send the client
// into OAuth against the wrong party.
import type { FastifyError } from 'fastify'
import { errors } from '../core/errors.ts'

function causeCode (err: unknown): string | undefined {
  // An error may wrap the one that tells (`cause`); walk the chain for the first code we know.
  let cur: unknown = err
  for (let depth = 0; depth < 5 && cur !== null && typeof cur === 'object'; depth++) {
    const code = (cur as { code?: unknown }).code
    if (typeof code === 'string' && (code.startsWith('UND_ERR') || code.startsWith('E'))) return code
    cur = (cur as { cause?: unknown }).cause
  }
  return undefined
}

export function fromUpstreamFailure (err: unknown): FastifyError {
  const code = causeCode(err)
  let mapped: FastifyError
  if (code === 'UND_ERR_CONNECT_TIMEOUT') mapped = new errors.UpstreamConnectTimeout()
  else if (code === 'UND_ERR_HEADERS_TIMEOUT') mapped = new errors.UpstreamTimeout()
  else mapped = new errors.UpstreamUnreachable()
  mapped.cause = err
  return mapped
}

export function isUpstreamAuthFailure (statusCode: number): boolean {
  return statusCode === 401 || statusCode === 403
}

export function fromUpstreamAuthFailure (statusCode: number): FastifyError {
  return new errors.UpstreamAuthFailed(statusCode)
}
