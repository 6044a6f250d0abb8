// Reload on file change: the config file's directory is watched (inotify on Linux: no wake-ups
// while nothing changes), because editors replace a file by renaming a new one over it and
// Kubernetes updates a mounted ConfigMap by swapping a symlink, which a watch on the file itself
// would not see. Events are debounced; the caller compares contents, so a touch reloads nothing.
import { watch } from 'node:fs'
import { basename, dirname, resolve } from 'node:path'

/** How long the directory must be quiet before a change is acted on (a save is several events). */
const SETTLE_MS = 200

export interface ConfigWatch {
  close(): void
}

/** Calls `onChange` once things settle after any change in the directory of `path`. */
export function watchConfigDir (path: string, onChange: () => void, onError: (err: Error) => void): ConfigWatch {
  const file = resolve(path)
  const name = basename(file)
  let timer: NodeJS.Timeout | null = null
  const watcher = watch(dirname(file), { persistent: false }, (_event, changed) => {
    // The file itself (written, or renamed over), Kubernetes' `..data` swap, or an event that does
    // not say: other files in the directory (a database beside the config) are not a reason.
    if (changed !== null && changed !== name && !changed.startsWith('..')) return
    if (timer !== null) clearTimeout(timer)
    timer = setTimeout(() => {
      timer = null
      onChange()
    }, SETTLE_MS)
    timer.unref()
  })
  // e.g. the directory was removed: reloading by SIGHUP still works.
  watcher.on('error', err => {
    onError(new Error(`no longer watching ${name}'s directory for changes: ${err.message}`))
    watcher.close()
  })
  return {
    close () {
      if (timer !== null) clearTimeout(timer)
      timer = null
      watcher.close()
    }
  }
}
