// Issue 28: a relative store.path (and audit.file) in a config file is taken from the file's
// directory, so `mcpgate … --config /srv/mcpgate/mcpgate.yaml` finds the same store whatever
// directory it runs in; one from MCPGATE_STORE_PATH is relative to the working directory; the demo
// config that `npm start` uses keeps its store in the repository's data/ directory.
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadConfigFile, parseConfigText } from '../../config/load.ts'
import { tempDir } from '../helpers/stores.ts'

t.test('relative paths in a file are relative to the file', async t => {
  const dir = tempDir(t)
  const file = join(dir, 'mcpgate.yaml')
  writeFileSync(file, 'store: { type: sqlite, path: ./data/x.db }\naudit: { file: logs/audit.jsonl }\n')
  const c = loadConfigFile(file, {})
  t.equal(c.store.path, join(dir, 'data', 'x.db'))
  t.equal(c.audit.file, join(dir, 'logs', 'audit.jsonl'))
  writeFileSync(file, '{}\n')
  t.equal(loadConfigFile(file, {}).store.path, join(dir, 'data', 'mcpgate.db'), 'the default path too')
  writeFileSync(file, 'store: { path: /var/lib/mcpgate/m.db }\naudit: { file: stdout }\n')
  t.equal(loadConfigFile(file, {}).store.path, '/var/lib/mcpgate/m.db', 'absolute: as is')
  t.equal(loadConfigFile(file, {}).audit.file, 'stdout', '"stdout" is no path')
  t.equal(loadConfigFile(file, { MCPGATE_STORE_PATH: 'here.db' }).store.path, 'here.db', 'from the environment: relative to the working directory, as typed')
  writeFileSync(file, 'oauth: { signingKeyFile: keys/signing.pem }\n')
  t.equal(loadConfigFile(file, {}).oauth.signingKeyFile, join(dir, 'keys', 'signing.pem'), 'oauth.signingKeyFile too')
  t.equal(loadConfigFile(file, { MCPGATE_OAUTH_SIGNING_KEY_FILE: 'k.pem' }).oauth.signingKeyFile, 'k.pem', 'MCPGATE_OAUTH_SIGNING_KEY_FILE: as typed')
  t.equal(parseConfigText('store: { path: ./data/x.db }\n').store.path, './data/x.db', 'a document without a file: unchanged')
})

t.test('config/demo.yaml (npm start) keeps its store in the repository\'s data/', async t => {
  const root = fileURLToPath(new URL('../../', import.meta.url))
  const c = loadConfigFile(join(root, 'config', 'demo.yaml'), {})
  t.equal(c.store.path, resolve(root, 'data', 'mcpgate.db'))
})
