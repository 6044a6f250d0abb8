// A SQLite file written before users could be linked to an OIDC identity (no oidc_* columns) is
// upgraded in place when a store opens it: its users are kept and can then be linked. Two stores
// opening the old file together (a server and the CLI) both work.
import { join } from 'node:path'
import Database from 'better-sqlite3'
import t from 'tap'
import { SqliteStore } from '../../core/store/sqlite.ts'
import { tempDir } from '../helpers/stores.ts'

// The users table as it was before identities (the other tables did not change).
const OLD_SCHEMA = `
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  email TEXT NOT NULL,
  email_lower TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  groups TEXT NOT NULL,
  disabled INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX users_created ON users (created_at, id);
`

t.test('an old file gains the identity columns and keeps its users', async t => {
  const path = join(tempDir(t), 'old.db')
  const old = new Database(path)
  old.exec(OLD_SCHEMA)
  old.prepare("INSERT INTO users VALUES ('ada1', 'ada@example.com', 'ada@example.com', 'Ada', 'admin', '[]', 0, 1000)").run()
  old.close()

  const [a, b] = [new SqliteStore({ path }), new SqliteStore({ path })]
  t.teardown(async () => { await a.close(); await b.close() })
  t.same(await a.getUser('ada1'), { id: 'ada1', kind: 'human', email: 'ada@example.com', name: 'Ada', role: 'admin', groups: [], disabled: false, createdAt: 1000 }, 'the user is kept, unlinked')
  const identity = { issuer: 'https://idp.example.com/', subject: 'ada' }
  t.same((await a.linkIdentity('ada1', identity, null))?.identity, identity)
  t.same((await b.getUserByIdentity(identity))?.id, 'ada1', 'seen by the other store')

  const check = new Database(path, { readonly: true })
  t.teardown(() => check.close())
  const columns = (check.pragma('table_info(users)') as Array<{ name: string }>).map(c => c.name)
  t.same(columns.filter(c => c.startsWith('oidc_')), ['oidc_issuer', 'oidc_subject'], 'added once')
  t.equal(columns.filter(c => c === 'kind').length, 1, 'the kind column is added once: every old user is a human')
  t.ok(check.prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'users_oidc_identity'").get(), 'identities are unique')
})
