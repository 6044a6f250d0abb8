// The create-key dialog's per-server scope picker: "All tools, prompts and resources", or only
// some — checkboxes filled from the server's live catalog (GET /api/mcp-servers/:id/catalog,
// already filtered to what the user may use) plus typed names or * globs, checked with the
// gateway's own rule (core/tool-scope.ts entryProblem) before anything is sent.
import { ApiError, path, type McpServer, type McpServerCatalog } from './api.ts'
import { entryProblem, MAX_SCOPE_ENTRIES, SCOPE_KINDS, type ScopeKind, type ScopeRule } from '../../core/tool-scope.ts'
import type { AppContext } from './context.ts'
import { errorMessage } from './dialog.ts'
import { h, replaceChildren, uid } from './dom.ts'

const LABEL: Record<ScopeKind, string> = { tools: 'Tools', prompts: 'Prompts', resources: 'Resources' }
const GLOB_HINT: Record<ScopeKind, string> = {
  tools: 'e.g. search_* or get_issue',
  prompts: 'e.g. summarize or review_*',
  resources: 'resource URIs, e.g. repo://docs/*'
}

export interface ScopePicker {
  element: HTMLElement
  /** Shown while its server is chosen. */
  setVisible: (visible: boolean) => void
  /**
   * The rule for the server (undefined: everything), or the first problem with the control to
   * focus. Every problem is also shown next to its input.
   */
  read: () => { ok: true, rule: ScopeRule | undefined } | { ok: false, focus: HTMLElement }
  /** A problem the server reported for this server's rule. */
  setError: (message: string | null) => void
  focus: () => void
}

interface KindSection {
  element: HTMLElement
  all: HTMLInputElement
  boxes: HTMLInputElement[]
  globs: HTMLInputElement
  globsError: HTMLElement
  fill: (names: Array<{ value: string, label: string, detail?: string | undefined }>, loaded: boolean) => void
}

function kindSection (kind: ScopeKind, serverName: string, startAll: boolean): KindSection {
  const all = h('input', { type: 'checkbox', id: uid(`scope-${kind}-all`), checked: startAll })
  const items = h('div', { class: 'scope-items' })
  const globs = h('input', { type: 'text', id: uid(`scope-${kind}-globs`), autocomplete: 'off', spellcheck: 'false' })
  const hintId = `${globs.id}-hint`
  const errorId = `${globs.id}-error`
  const globsError = h('p', { class: 'field-error', id: errorId, hidden: true })
  globs.setAttribute('aria-describedby', `${hintId} ${errorId}`)
  const boxes: HTMLInputElement[] = []
  // "All" is exclusive, as "All MCP servers" is: the single choices fold away under it.
  const choices = h('div', { class: 'scope-kind-choices' },
    items,
    h('div', { class: 'field scope-globs' },
      h('label', { for: globs.id }, `More ${kind} or * globs, comma-separated`),
      globs,
      h('p', { class: 'hint', id: hintId }, GLOB_HINT[kind]),
      globsError))
  const sync = () => { choices.hidden = all.checked }
  all.addEventListener('change', sync)
  const section: KindSection = {
    element: h('fieldset', { class: 'scope-kind' },
      h('legend', {}, LABEL[kind]),
      h('div', { class: 'checkbox-row' }, all, h('label', { for: all.id }, h('span', { class: 'scope-name' }, `All ${kind}`),
        h('span', { class: 'scope-description' }, `Every ${kind.slice(0, -1)} ${serverName} offers you, now and later`))),
      choices),
    all,
    boxes,
    globs,
    globsError,
    fill: (names, loaded) => {
      boxes.length = 0
      replaceChildren(items, loaded && names.length === 0 ? h('p', { class: 'hint' }, `${serverName} offers you no ${kind}.`) : null,
        names.map(n => {
          const box = h('input', { type: 'checkbox', id: uid(`scope-${kind}`), value: n.value })
          boxes.push(box)
          return h('div', { class: 'checkbox-row' }, box, h('label', { for: box.id },
            h('span', { class: 'scope-name' }, n.label),
            n.detail === undefined ? null : h('span', { class: 'scope-description' }, n.detail)))
        }))
      sync()
    }
  }
  sync()
  return section
}

export function scopePicker (ctx: AppContext, server: McpServer): ScopePicker {
  const name = `scope-mode-${uid(server.id)}`
  const everything = h('input', { type: 'radio', name, id: uid('scope-all'), value: 'all', checked: true })
  const some = h('input', { type: 'radio', name, id: uid('scope-some'), value: 'some' })
  const status = h('p', { class: 'hint', role: 'status' })
  // Tools are what one usually narrows; prompts and resources start at "all".
  const sections = SCOPE_KINDS.map(kind => kindSection(kind, server.name, kind !== 'tools'))
  const choices = h('div', { class: 'scope-choices', hidden: true }, status, sections.map(s => s.element))
  const error = h('p', { class: 'field-error', hidden: true })
  const element = h('fieldset', { class: 'scope-picker', hidden: true, 'data-server': server.id },
    h('legend', {}, `What ${server.name} may use`),
    h('div', { class: 'checkbox-row' }, everything, h('label', { for: everything.id }, 'All tools, prompts and resources')),
    h('div', { class: 'checkbox-row' }, some, h('label', { for: some.id }, 'Only some tools, prompts or resources')),
    choices,
    error)

  let loading: Promise<void> | null = null
  const load = () => {
    if (loading !== null) return
    status.textContent = `Loading what ${server.name} offers…`
    loading = ctx.api.get<McpServerCatalog>(path`/api/mcp-servers/${server.id}/catalog`).then(catalog => {
      const byKind: Record<ScopeKind, Array<{ value: string, label: string, detail?: string | undefined }>> = {
        tools: catalog.tools.map(t => ({ value: t.name, label: t.name, detail: t.title ?? t.description })),
        prompts: catalog.prompts.map(p => ({ value: p.name, label: p.name, detail: p.title ?? p.description })),
        resources: [
          ...catalog.resources.map(r => ({ value: r.uri, label: r.name ?? r.uri, detail: r.name === undefined || r.name === r.uri ? r.description : r.uri })),
          ...catalog.resourceTemplates.map(r => ({ value: r.uriTemplate, label: r.uriTemplate, detail: r.name === undefined ? 'resource template' : `${r.name} (template)` }))
        ]
      }
      for (const [i, kind] of SCOPE_KINDS.entries()) sections[i]?.fill(byKind[kind], true)
      status.textContent = catalog.truncated ? `${server.name} offers more than the list shows: type names or globs for the rest.` : ''
    }, (err: unknown) => {
      // The picker still works: names and globs can be typed. A later try lists again.
      loading = null
      const why = err instanceof ApiError && err.code === 'MCPGATE_CATALOG_UNAVAILABLE' ? `${server.name} could not be listed right now` : errorMessage(err)
      status.textContent = `${why}. You can still type names or globs below.`
    })
  }
  const syncMode = () => {
    choices.hidden = !some.checked
    if (some.checked) load()
  }
  everything.addEventListener('change', syncMode)
  some.addEventListener('change', syncMode)

  const setError = (message: string | null) => {
    error.textContent = message ?? ''
    error.hidden = message === null
    if (message === null) element.removeAttribute('aria-invalid')
    else element.setAttribute('aria-invalid', 'true')
  }

  return {
    element,
    setVisible: visible => { element.hidden = !visible },
    setError,
    focus: () => (some.checked ? some : everything).focus(),
    read: () => {
      setError(null)
      for (const s of sections) {
        s.globsError.hidden = true
        s.globs.removeAttribute('aria-invalid')
      }
      if (!some.checked) return { ok: true, rule: undefined }
      const rule: ScopeRule = {}
      let firstProblem: HTMLElement | null = null
      for (const [i, kind] of SCOPE_KINDS.entries()) {
        const s = sections[i] as KindSection
        if (s.all.checked) continue
        const typed = s.globs.value.split(/[,\n]/).map(e => e.trim()).filter(e => e !== '')
        const problems = typed.map(e => [e, entryProblem(e)] as const).filter(([, p]) => p !== null)
        const entries = [...new Set([...s.boxes.filter(b => b.checked).map(b => b.value), ...typed])]
        const problem = problems.length > 0
          ? `“${problems[0]?.[0] ?? ''}” ${problems[0]?.[1] ?? ''}`
          : entries.length > MAX_SCOPE_ENTRIES ? `At most ${MAX_SCOPE_ENTRIES} ${kind} per server.` : null
        if (problem !== null) {
          s.globsError.textContent = problem
          s.globsError.hidden = false
          s.globs.setAttribute('aria-invalid', 'true')
          firstProblem ??= s.globs
          continue
        }
        rule[kind] = entries
      }
      if (firstProblem !== null) return { ok: false, focus: firstProblem }
      return { ok: true, rule: Object.keys(rule).length === 0 ? undefined : rule }
    }
  }
}
