// A key deleted through the store, or its owner disabled or deleted, is refused at once even though
// it is cached: both stores deliver their own writes' invalidations synchronously, so the very next
// request fails; a write through another Redis connection (another process) arrives over pub/sub,
// and there the target is "within 100 ms".
import t from 'tap'
import type { Test } from 'tap'
import type { KeyStore } from '../../core/store/store.ts'
import { createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { redisStore, sqliteStore } from '../helpers/stores.ts'

async function poll (fn: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!fn()) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise(resolve => setTimeout(resolve, 2))
  }
}

async function suite (t: Test, store: KeyStore, writer: KeyStore, immediate: boolean): Promise<void> {
  const upstream = await startRawUpstream(t, (_req, res) => { res.end('{}') })
  const gw = await startGateway(t, { store, config: testConfig({ servers: [{ id: 'up', url: `${upstream.origin}/mcp` }] }) })
  await poll(() => store.isSubscribed(), 5000)
  const send = async (key: string): Promise<{ status: number, code?: string }> => {
    const res = await fetch(gw.mcpUrl('up'), { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: '{}' })
    const body = await res.json() as { error?: { data: { code: string } } }
    if (res.status === 401 && res.headers.get('www-authenticate') !== 'Bearer realm="mcpgate", error="invalid_token"') throw new Error('401 without the invalid_token challenge')
    return { status: res.status, code: body.error?.data.code }
  }
  /** SQLite: exactly the next request; Redis: the first request at most 100 ms later. */
  const nextAnswer = async (key: string, until: (status: number) => boolean): Promise<{ status: number, code?: string }> => {
    if (immediate) return send(key)
    const start = Date.now()
    for (;;) {
      const r = await send(key)
      if (until(r.status) || Date.now() - start > 100) return r
    }
  }
  const refusedAfter = (key: string) => nextAnswer(key, status => status !== 200)

  const deleted = await createTestKey(store)
  t.equal((await send(deleted.key)).status, 200, 'key works and is now cached')
  t.equal((await send(deleted.key)).status, 200, 'served from cache')
  await writer.deleteKey(deleted.keyId)
  t.same(await refusedAfter(deleted.key), { status: 401, code: 'MCPGATE_KEY_INVALID' }, 'deleted key refused')

  const disabled = await createTestKey(store)
  t.equal((await send(disabled.key)).status, 200)
  await writer.updateUser(disabled.user.id, { disabled: true })
  t.same(await refusedAfter(disabled.key), { status: 401, code: 'MCPGATE_OWNER_DISABLED' }, 'disabled owner refused')
  await writer.updateUser(disabled.user.id, { disabled: false })
  const back = await nextAnswer(disabled.key, status => status === 200)
  t.equal(back.status, 200, 're-enabled owner works again')

  const gone = await createTestKey(store)
  t.equal((await send(gone.key)).status, 200)
  await writer.deleteUser(gone.user.id)
  t.same(await refusedAfter(gone.key), { status: 401, code: 'MCPGATE_KEY_INVALID' }, 'deleted owner: key refused')
}

t.test('SQLite: the very next request', async t => {
  const store = await sqliteStore(t)
  await suite(t, store, store, true)
})
t.test('Redis, written through the same store: the very next request', async t => {
  const store = await redisStore(t)
  await suite(t, store, store, true)
})
t.test('Redis, written by another connection: within 100 ms', async t => {
  const store = await redisStore(t)
  const writer = await redisStore(t, undefined, { prefix: store.prefix })
  await suite(t, store, writer, false)
})
