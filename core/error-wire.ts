// Every error either service answers with is mapped here, once, to what goes on the wire: our
// declared errors (core/errors.ts) pass as they are; a store that cannot be reached is our 503 and
// a unique-constraint clash our 409; a framework 4xx (bad JSON, body too large, a failed schema)
// keeps its status under MCPGATE_BAD_REQUEST or MCPGATE_VALIDATION_FAILED; anything else is a 500
// with no detail. The services choose only the envelope (JSON-RPC on MCP routes, plain elsewhere).
import { STATUS_CODES } from 'node:http'
import type { FastifyError } from 'fastify'
import { errors, StoreConflictError, StoreUnavailableError } from './errors.ts'
import { redactKeys } from './key-format.ts'

export interface WireError {
  statusCode: number
  code: string
  message: string
  /** The original error when it is a fault (logged with its stack), null for an answer. */
  fault: Error | null
}

/** A schema failure's message (the services phrase it: the admin API names the field). */
export type ValidationMessage = (err: FastifyError) => string

export function toWire (err: FastifyError | Error, validationMessage?: ValidationMessage): WireError {
  const e = err as FastifyError
  if (e.validation !== undefined) {
    const v = new errors.ValidationFailed(validationMessage === undefined ? e.message : validationMessage(e))
    return { statusCode: 400, code: v.code, message: v.message, fault: null }
  }
  if (err instanceof StoreUnavailableError) {
    const down = new errors.StoreUnavailable()
    return { statusCode: down.statusCode ?? 503, code: down.code, message: down.message, fault: null }
  }
  if (err instanceof StoreConflictError) {
    const taken = new errors.EmailTaken(err.field)
    return { statusCode: taken.statusCode ?? 409, code: taken.code, message: taken.message, fault: null }
  }
  const status = typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 600 ? e.statusCode : 500
  if (typeof e.code === 'string' && e.code.startsWith('MCPGATE_')) {
    return { statusCode: status, code: e.code, message: e.message, fault: e.code === 'MCPGATE_INTERNAL' ? err : null }
  }
  // Fastify's own request errors (bad JSON, wrong content type, body too large, too many headers).
  if (status < 500) return { statusCode: status, code: new errors.BadRequest('').code, message: redactKeys(e.message), fault: null }
  const internal = new errors.Internal()
  return { statusCode: 500, code: internal.code, message: internal.message, fault: err }
}

export function statusText (status: number): string {
  return STATUS_CODES[status] ?? (status >= 500 ? 'Server Error' : 'Client Error')
}
