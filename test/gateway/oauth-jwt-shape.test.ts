// Which bearers OAuth mode sends down the token path: exactly three non-empty dot-separated parts
// (a compact JWS), at most 8 KiB. Anything else goes the key path (an `ok1-` key, or a malformed key).
import t from 'tap'
import { isJwtShaped } from '../../gateway/oauth.ts'

t.ok(isJwtShaped('aaa.bbb.ccc'), 'three parts')
t.ok(isJwtShaped('eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln'), 'a JWT')
for (const [token, why] of [
  ['', 'empty'],
  ['abc', 'one part'],
  ['a.b', 'two parts'],
  ['a.b.c.d', 'four parts (a JWE has five)'],
  ['.b.c', 'an empty first part'],
  ['a..c', 'an empty middle part'],
  ['a.b.', 'an empty last part'],
  ['ok1-user-key-secret', 'an API key'],
  [`a.${'b'.repeat(8192)}.c`, 'over 8 KiB']
] as const) t.notOk(isJwtShaped(token), `refused: ${why}`)
