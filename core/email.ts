// The one rule for an email address, wherever one enters (admin API, CLI, OIDC claim): what is
// refused, and the single form that is stored and compared. Pure; callers turn a problem into
// their own error (400 naming `email`, or a refused token).
//
// Why this strict: the email is the user's identity in access rules, audit lines and the identity
// header sent upstream, and the store's uniqueness is on the lower-cased string. An address with a
// NUL, a zero-width space or a bidi override prints exactly like another one and would be a
// second, indistinguishable user. The rule does not decide whether a mailbox exists; the IdP or the
// admin does.

export const EMAIL_MAX = 254
/** RFC 5321 §4.5.3.1.1. */
export const EMAIL_LOCAL_MAX = 64
const LABEL_MAX = 63

export type EmailResult = { ok: true, email: string } | { ok: false, problem: string }

/**
 * Unicode "other" (controls, format characters such as zero-width joiners, bidi overrides and the
 * soft hyphen, surrogates, private use, unassigned) and separators (every kind of space, line and
 * paragraph separators): nothing an address needs, everything that hides.
 */
const HIDDEN = /[\p{C}\p{Z}]/u
/** RFC 5322 atext and dots, plus letters, marks and digits of any script (RFC 6531). */
const LOCAL = /^[\p{L}\p{M}\p{N}!#$%&'*+/=?^_`{|}~.-]+$/u
const LABEL = /^[\p{L}\p{M}\p{N}-]+$/u

function fail (problem: string): EmailResult {
  return { ok: false, problem }
}

/**
 * Trims surrounding whitespace, then normalises (Unicode NFC, then lower case: the whole address,
 * as the store compares it) and checks: no hidden character anywhere, exactly one `@`, a dot-atom
 * local part of at most 64 characters, a domain of two or more labels, 254 characters at most.
 */
export function parseEmail (value: unknown): EmailResult {
  if (typeof value !== 'string') return fail('must be a string')
  const email = value.trim().normalize('NFC').toLowerCase()
  if (email === '') return fail('must not be empty')
  if (HIDDEN.test(email)) return fail('must not contain control, invisible or space characters')
  if (email.length > EMAIL_MAX) return fail(`must be at most ${EMAIL_MAX} characters`)
  const at = email.indexOf('@')
  if (at < 0 || email.indexOf('@', at + 1) >= 0) return fail('must contain exactly one "@"')
  const local = email.slice(0, at)
  const domain = email.slice(at + 1)
  if (local.length < 1 || local.length > EMAIL_LOCAL_MAX) return fail(`must have 1-${EMAIL_LOCAL_MAX} characters before the "@"`)
  if (!LOCAL.test(local) || local.startsWith('.') || local.endsWith('.') || local.includes('..')) return fail('must be a valid email address (the part before the "@")')
  const labels = domain.split('.')
  if (labels.length < 2 || labels.some(l => l.length < 1 || l.length > LABEL_MAX || !LABEL.test(l))) return fail('must be a valid email address (the domain)')
  return { ok: true, email }
}
