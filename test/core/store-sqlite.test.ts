// The KeyStore contract against SqliteStore on a real file, plus a look at the raw tables.
import Database from 'better-sqlite3'
import t from 'tap'
import { SqliteStore } from '../../core/store/sqlite.ts'
import { sqliteStore } from '../helpers/stores.ts'
import { storeContract } from './store-contract.ts'

storeContract(t, (t, opts) => sqliteStore(t, opts), {
  async assertStorage (t, store, expected) {
    if (!(store instanceof SqliteStore)) throw new TypeError('expected a SqliteStore')
    // A second connection (nothing but SELECTs) sees what any other process would; it must open
    // the store's file, never create an empty one.
    const db = new Database(store.path, { fileMustExist: true })
    try {
      const ids = (sql: string): string[] => db.prepare<[], string>(sql).pluck().all().sort()
      t.same(ids('SELECT id FROM users'), [...expected.userIds].sort(), 'users table holds exactly the expected users')
      t.same(ids('SELECT id FROM api_keys'), [...expected.keyIds].sort(), 'api_keys table holds exactly the expected keys')
      t.same(ids('SELECT k.id FROM api_keys k LEFT JOIN users u ON u.id = k.user_id WHERE u.id IS NULL'), [], 'no key without its owner')
      t.same(db.pragma('foreign_key_check'), [], 'foreign keys hold')
    } finally {
      db.close()
    }
  }
})
