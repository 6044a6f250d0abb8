// Hardening drill, finding 1: a key deleted while its first use on a replica was reading the store
// stayed valid on that replica for 30 s (until revalidation): the gateway noted the cache's
// invalidation generation after the read instead of before, so the invalidation that arrived
// during the read was missed and the deleted key was cached. Deterministic here: the store read
// is held open while the key is deleted and its invalidation delivered.
import t from 'tap'
import { SqliteStore } from '../../core/store/sqlite.ts'
import type { ApiKeyRecord, User } from '../../core/store/store.ts'
import { createTestKey, startGateway, testConfig } from '../helpers/gateway.ts'
import { startRawUpstream } from '../helpers/mcp-upstream.ts'
import { tempDir } from '../helpers/stores.ts'
import { join } from 'node:path'

/** A real SQLite store whose next getKeyWithOwner can be held after it has read. */
class HoldingStore extends SqliteStore {
  #held: { read: () => void, release: Promise<void> } | null = null

  /** Resolves `read` once the next auth read has its result; that result is returned when `release` resolves. */
  holdNextRead (release: Promise<void>): Promise<void> {
    return new Promise(resolve => { this.#held = { read: resolve, release } })
  }

  override async getKeyWithOwner (id: string): Promise<{ key: ApiKeyRecord, owner: User } | null> {
    const found = await super.getKeyWithOwner(id)
    const held = this.#held
    this.#held = null
    if (held !== null) {
      held.read()
      await held.release
    }
    return found
  }
}

t.test('a key deleted during its first use is not cached', async t => {
  const upstream = await startRawUpstream(t, (_req, res) => { res.end('{}') })
  const store = new HoldingStore({ path: join(tempDir(t), 'held.db') })
  t.teardown(() => store.close())
  // Revalidation far away: only the invalidation can refuse the key in time.
  const gw = await startGateway(t, { store, config: testConfig({ gateway: { cache: { revalidateMs: 600_000 } }, servers: [{ id: 'up', url: `${upstream.origin}/mcp` }] }) })
  const key = await createTestKey(store)
  const send = () => fetch(gw.mcpUrl('up'), { method: 'POST', headers: { authorization: `Bearer ${key.key}` }, body: '{}' })

  let release!: () => void
  const read = store.holdNextRead(new Promise<void>(resolve => { release = resolve }))
  const first = send()
  await read
  // The DELETE lands (and its invalidation is delivered in-process) while the read is held.
  await store.deleteKey(key.keyId)
  release()
  const firstStatus = (await first).status
  t.equal(firstStatus, 200, 'the request that read the key before the delete is answered from that read')
  const second = await send()
  t.equal(second.status, 401, 'the next request is refused: the read that raced the delete was not cached')
  t.equal(((await second.json()) as { error: { data: { code: string } } }).error.data.code, 'MCPGATE_KEY_INVALID')
})
