// argon2id hashing with configured parameters, digest helpers and constant-time comparison.
import t from 'tap'
import { DEFAULT_ARGON2, digestsEqual, hashSecret, keyDigest, safeEqualString, sha256, verifySecret } from '../../core/hashing.ts'

t.test('argon2id hash embeds the configured parameters and verifies', async t => {
  const phc = await hashSecret('s3cret', { memoryCost: 1024, timeCost: 1, parallelism: 1 })
  t.match(phc, /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/)
  t.equal(await verifySecret(phc, 's3cret'), true)
  t.equal(await verifySecret(phc, 's3creT'), false)
})

t.test('default parameters are OWASP m=19456 t=2 p=1', async t => {
  t.same(DEFAULT_ARGON2, { memoryCost: 19456, timeCost: 2, parallelism: 1 })
  const phc = await hashSecret('x')
  t.match(phc, /m=19456,t=2,p=1/)
})

t.test('a corrupt stored hash is a failed verification, not a crash', async t => {
  t.equal(await verifySecret('not-a-phc', 'x'), false)
  t.equal(await verifySecret('', 'x'), false)
})

t.test('constant-time comparisons', async t => {
  t.equal(digestsEqual(keyDigest('a'), keyDigest('a')), true)
  t.equal(digestsEqual(keyDigest('a'), keyDigest('b')), false)
  // Digests differing only in their last byte, and a prefix: both unequal.
  const d = keyDigest('a')
  t.equal(digestsEqual(d, (d.slice(0, 31) + String.fromCharCode(d.charCodeAt(31) ^ 1)) as typeof d), false)
  t.equal(digestsEqual(d, d.slice(0, 31) as typeof d), false)
  t.equal(safeEqualString('token-1', 'token-1'), true)
  t.equal(safeEqualString('token-1', 'token-12'), false)
})

t.test('a key digest is the sha256 of the key, one latin1 character per byte', async t => {
  const d = keyDigest('ok1-some-key')
  t.equal(d.length, 32)
  t.equal(Buffer.from(d, 'latin1').toString('hex'), sha256('ok1-some-key').toString('hex'))
})
