// oidc-provider's storage seam on mcpgate's store (KeyStore's records: Redis or SQLite, shared by
// every admin replica). One record per model instance, `<Model>:<id>`, forgotten when the model's
// TTL ends; a consumed mark beside it (written once, so two concurrent uses of one code or refresh
// token cannot both pass); a set per grant of its tokens' records.
//
// A grant is also an API key record with the same id (grants.ts): a Grant is found only while its
// key lives (a key deleted in the console or the API ends the grant: no refresh, no new code), and
// revoking a grant (a refresh token used twice, an authorization code replayed) deletes that key,
// which every gateway replica refuses within the revocation budget, open streams included.
import { errors as oidcErrors, type Adapter, type AdapterPayload } from 'oidc-provider'
import { randomBase62 } from '../../core/key-format.ts'
import type { KeyStore } from '../../core/store/store.ts'

/** How long a consumed mark outlives nothing it marks: the longest a consumable record lives. */
export interface AdapterOptions {
  store: KeyStore
  /** ms: the consumed marks' lifetime (at least the longest-lived consumable, a refresh token). */
  consumedTtlMs: number
  /** Finds the machine client a key id names (client_credentials), when no registered client has that id. */
  keyClient?: (id: string) => Promise<AdapterPayload | undefined>
}

export class StoreAdapter implements Adapter {
  readonly #model: string
  readonly #store: KeyStore
  readonly #options: AdapterOptions

  constructor (model: string, options: AdapterOptions) {
    this.#model = model
    this.#store = options.store
    this.#options = options
  }

  #name (id: string): string {
    return `${this.#model}:${id}`
  }

  async upsert (id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    const ttlMs = Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn * 1000 : null
    const name = this.#name(id)
    await this.#store.putRecord(name, JSON.stringify(payload), ttlMs)
    if (typeof payload.grantId === 'string') await this.#store.addToRecordSet(grantSet(payload.grantId), name, ttlMs ?? this.#options.consumedTtlMs)
    if (typeof payload.uid === 'string') await this.#store.putRecord(`${this.#model}:uid:${payload.uid}`, id, ttlMs)
    if (typeof payload.userCode === 'string') await this.#store.putRecord(`${this.#model}:userCode:${payload.userCode}`, id, ttlMs)
  }

  async find (id: string): Promise<AdapterPayload | undefined> {
    const name = this.#name(id)
    const [raw, consumed] = await Promise.all([this.#store.getRecord(name), this.#store.getRecord(`${name}:consumed`)])
    if (raw === null) return this.#model === 'Client' ? await this.#options.keyClient?.(id) : undefined
    const payload = JSON.parse(raw) as AdapterPayload
    if (consumed !== null) payload.consumed = Number.parseInt(consumed, 10)
    // A grant lives as long as its key: deleted in the console or the API, it is over here too.
    if (this.#model === 'Grant' && await this.#store.getKey(id) === null) {
      await this.revokeByGrantId(id)
      return undefined
    }
    return payload
  }

  async findByUid (uid: string): Promise<AdapterPayload | undefined> {
    const id = await this.#store.getRecord(`${this.#model}:uid:${uid}`)
    return id === null ? undefined : await this.find(id)
  }

  async findByUserCode (userCode: string): Promise<AdapterPayload | undefined> {
    const id = await this.#store.getRecord(`${this.#model}:userCode:${userCode}`)
    return id === null ? undefined : await this.find(id)
  }

  /**
   * Marks a code or refresh token used. oidc-provider checks `consumed` when it finds the token and
   * calls this later: two requests with one token at once both pass that check. The mark is written
   * once (put-if-absent, unique to this use), so the second finds the first's mark here, and is
   * treated as the reuse it is: the grant is revoked (the first request's fresh tokens with it).
   */
  async consume (id: string): Promise<void> {
    const mark = `${Math.floor(Date.now() / 1000)}.${randomBase62(12)}`
    const held = await this.#store.putRecordIfAbsent(`${this.#name(id)}:consumed`, mark, this.#options.consumedTtlMs)
    if (held === mark) return
    const raw = await this.#store.getRecord(this.#name(id))
    const grantId = raw === null ? undefined : (JSON.parse(raw) as AdapterPayload).grantId
    if (typeof grantId === 'string') await this.revokeByGrantId(grantId)
    throw new oidcErrors.InvalidGrant(`${this.#model === 'RefreshToken' ? 'refresh token' : 'authorization code'} already used`)
  }

  async destroy (id: string): Promise<void> {
    const name = this.#name(id)
    await this.#store.deleteRecords([name, `${name}:consumed`])
  }

  /** Every token of the grant, the grant itself, and its key: refused by the gateway at once. */
  async revokeByGrantId (grantId: string): Promise<void> {
    const members = await this.#store.recordSetMembers(grantSet(grantId))
    await this.#store.deleteRecords([...members, ...members.map(m => `${m}:consumed`), grantSet(grantId), `Grant:${grantId}`])
    const key = await this.#store.getKey(grantId)
    if (key?.oauth !== undefined) await this.#store.deleteKey(grantId)
  }
}

function grantSet (grantId: string): string {
  return `grant:${grantId}`
}
