// argon2id hashing with configured parameters, digest helpers and constant-time comparison.
import t from 'tap'
import { DEFAULT_ARGON2, hashSecret, safeEqual, safeEqualString, sha256, verifySecret } from '../../core/hashing.ts'

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
  t.equal(safeEqual(sha256('a'), sha256('a')), true)
  t.equal(safeEqual(sha256('a'), sha256('b')), false)
  t.equal(safeEqual(Buffer.from('ab'), Buffer.from('abc')), false)
  t.equal(safeEqualString('token-1', 'token-1'), true)
  t.equal(safeEqualString('token-1', 'token-12'), false)
})
