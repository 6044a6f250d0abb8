// JSON text by hand for what is written once per request (the access line, audit events): a
// string with nothing to escape (nearly every one: ids, paths, addresses) is quoted as it is, and
// only the rest goes through JSON.stringify, whose set-up costs more than the quoting of a short
// string (bench/README.md, "Round 13").

/** Printable ASCII but `"` and `\`: what JSON takes unescaped. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/

/** `s` as a JSON string literal, quotes included: the same text JSON.stringify(s) gives. */
export function jsonString (s: string): string {
  return PLAIN.test(s) ? `"${s}"` : JSON.stringify(s)
}
