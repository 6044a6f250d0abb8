// The "Create API key" dialog: the form (with, per chosen server, what of it the key may use),
// then the one-time view of the new key with copy buttons and ready-to-paste client snippets for
// the servers it was scoped to (shown again for a rotated key's new secret).
import { ApiError, type CreatedApiKey, type McpServer } from './api.ts'
import { parseKeyScopes, type KeyScopes } from '../../core/tool-scope.ts'
import { copyText } from './clipboard.ts'
import { choosableServers, type AppContext } from './context.ts'
import { errorMessage, openModal, type Modal } from './dialog.ts'
import { announce, h, replaceChildren, uid } from './dom.ts'
import { endOfLocalDay, localDateValue } from './format.ts'
import { scopePicker } from './scope-picker.ts'
import { claudeCodeSnippet, curlSnippet, vscodeSnippet, type SnippetServer } from './snippets.ts'

export interface FieldControl {
  wrapper: HTMLElement
  setError: (message: string | null) => void
}

/** A labelled field with a hint and an error slot wired through aria-describedby. */
export function field (label: string, control: HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement, hint?: string): FieldControl {
  const id = control.id === '' ? uid('field') : control.id
  control.id = id
  const hintId = `${id}-hint`
  const errorId = `${id}-error`
  const error = h('p', { class: 'field-error', id: errorId, hidden: true })
  control.setAttribute('aria-describedby', hint === undefined ? errorId : `${hintId} ${errorId}`)
  const wrapper = h('div', { class: 'field' },
    h('label', { for: id }, label),
    control,
    hint === undefined ? null : h('p', { class: 'hint', id: hintId }, hint),
    error)
  return {
    wrapper,
    setError: (message) => {
      error.textContent = message ?? ''
      error.hidden = message === null
      if (message === null) control.removeAttribute('aria-invalid')
      else control.setAttribute('aria-invalid', 'true')
    }
  }
}

export function openCreateKeyDialog (ctx: AppContext, onCreated: (key: CreatedApiKey) => void): void {
  const modal = openModal({ title: 'Create API key', className: 'create-key' })
  const servers = choosableServers(ctx)

  const name = h('input', { type: 'text', id: 'key-name', name: 'name', required: true, maxlength: 100, autocomplete: 'off' })
  const description = h('textarea', { id: 'key-description', name: 'description', maxlength: 500, rows: 2 })
  const today = localDateValue(new Date())
  const expires = h('input', { type: 'date', id: 'key-expires', name: 'expiresAt', min: today })
  const nameField = field('Name', name, 'Required. Up to 100 characters.')
  const descriptionField = field('Description', description, 'Optional. What or who uses this key.')
  const expiresField = field('Expiration date', expires, 'Optional. The key stops working at the end of this day. Leave empty for a key that never expires.')

  const allBox = h('input', { type: 'checkbox', name: 'mcpServerIds', value: '*', id: 'key-servers-all' })
  const serverBoxes = servers.map(s => h('input', { type: 'checkbox', name: 'mcpServerIds', value: s.id, id: uid('key-server') }))
  // What of each chosen server the key may use; a server's picker shows while it is chosen.
  const pickers = servers.map(s => scopePicker(ctx, s))
  const serversError = h('p', { class: 'field-error', id: 'key-servers-error', hidden: true })
  const syncPickers = () => serverBoxes.forEach((box, i) => pickers[i]?.setVisible(box.checked))
  const syncExclusive = () => {
    // "All MCP servers" is exclusive: it covers every server, now and later.
    for (const box of serverBoxes) {
      box.disabled = allBox.checked
      if (allBox.checked) box.checked = false
    }
    syncPickers()
  }
  allBox.addEventListener('change', syncExclusive)
  for (const box of serverBoxes) box.addEventListener('change', syncPickers)
  const serversFieldset = h('fieldset', { class: 'field servers-field', 'aria-describedby': 'key-servers-error' },
    h('legend', {}, 'MCP servers'),
    h('div', { class: 'checkbox-row all-servers' },
      allBox,
      h('label', { for: allBox.id }, h('span', { class: 'option-name' }, 'All MCP servers'),
        h('span', { class: 'option-description' }, 'Every server you can reach, now and later'))),
    servers.length === 0
      ? h('p', { class: 'hint' }, 'You cannot reach any MCP server yet. Ask an administrator for access.')
      : h('div', { class: 'server-options' }, servers.flatMap((s, i) => {
        const box = serverBoxes[i] as HTMLInputElement
        return [
          h('div', { class: 'checkbox-row' },
            box,
            h('label', { for: box.id },
              h('span', { class: 'option-name' }, s.name),
              s.description === '' ? null : h('span', { class: 'option-description' }, s.description))),
          pickers[i]?.element
        ]
      })),
    serversError)
  const setServersError = (message: string | null) => {
    serversError.textContent = message ?? ''
    serversError.hidden = message === null
    if (message === null) serversFieldset.removeAttribute('aria-invalid')
    else serversFieldset.setAttribute('aria-invalid', 'true')
  }

  const formError = h('p', { class: 'form-error', role: 'alert', hidden: true })
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create API key')
  const cancel = h('button', { type: 'button', class: 'secondary', onclick: () => modal.close() }, 'Cancel')
  const form = h('form', { novalidate: true, class: 'form' },
    nameField.wrapper, descriptionField.wrapper, expiresField.wrapper, serversFieldset, formError,
    h('div', { class: 'dialog-actions' }, cancel, submit))

  /** The picker a `scopes.<id>…` message is about. */
  const pickerFor = (message: string | null) => {
    const id = /^scopes\.([a-z0-9_-]+)/.exec(message ?? '')?.[1]
    const i = servers.findIndex(s => s.id === id)
    return i < 0 ? undefined : pickers[i]
  }
  const fieldErrors: Record<string, (message: string | null) => void> = {
    name: nameField.setError,
    description: descriptionField.setError,
    expiresAt: expiresField.setError,
    mcpServerIds: setServersError,
    scopes: message => {
      if (message === null) for (const p of pickers) p.setError(null)
      else (pickerFor(message)?.setError ?? setServersError)(message)
    }
  }
  const focusFor: Record<string, HTMLElement> = { name, description, expiresAt: expires, mcpServerIds: allBox }

  form.addEventListener('submit', event => {
    event.preventDefault()
    for (const set of Object.values(fieldErrors)) set(null)
    formError.hidden = true
    const problems: Array<[string, string]> = []
    const body: { name: string, description?: string, expiresAt?: string, mcpServerIds: string[], scopes?: KeyScopes } = { name: name.value.trim(), mcpServerIds: [] }
    if (body.name === '') problems.push(['name', 'Enter a name for the key.'])
    if (description.value.trim() !== '') body.description = description.value.trim()
    if (expires.value !== '') {
      const end = endOfLocalDay(expires.value)
      if (end === null) problems.push(['expiresAt', 'Enter a valid date.'])
      else if (expires.value < localDateValue(new Date())) problems.push(['expiresAt', 'The expiration date cannot be in the past.'])
      else body.expiresAt = end.toISOString()
    }
    body.mcpServerIds = allBox.checked ? ['*'] : serverBoxes.filter(b => b.checked).map(b => b.value)
    if (body.mcpServerIds.length === 0) problems.push(['mcpServerIds', 'Choose at least one MCP server, or All MCP servers.'])
    // Per chosen server, what the key may use; the pickers show their own problems.
    const scopes: KeyScopes = {}
    let scopeProblem: HTMLElement | null = null
    for (const [i, box] of serverBoxes.entries()) {
      const picked = box.checked ? pickers[i]?.read() : undefined
      if (picked === undefined) continue
      if (!picked.ok) scopeProblem ??= picked.focus
      else if (picked.rule !== undefined) scopes[box.value] = picked.rule
    }
    // The API's own rule over the whole field (core/tool-scope.ts), as the server will check it.
    const checked = parseKeyScopes(scopes, id => body.mcpServerIds.includes(id) ? null : 'is not one of the chosen servers')
    if (!checked.ok) {
      const message = `${checked.field}: ${checked.problem}`
      fieldErrors.scopes?.(message)
      scopeProblem ??= allBox
    } else if (checked.scopes !== null) {
      body.scopes = checked.scopes
    }
    if (problems.length > 0 || scopeProblem !== null) {
      for (const [f, message] of problems) fieldErrors[f]?.(message)
      const first = problems[0]?.[0]
      ;(first === undefined ? scopeProblem : focusFor[first])?.focus()
      return
    }
    submit.disabled = true
    submit.textContent = 'Creating…'
    ctx.api.post<CreatedApiKey>('/api/api-keys', body).then(created => {
      onCreated(created)
      showKeyOnce(ctx, modal, created)
    }, (err: unknown) => {
      submit.disabled = false
      submit.textContent = 'Create API key'
      const f = err instanceof ApiError ? err.field : null
      const setError = f === null ? undefined : fieldErrors[f]
      if (f !== null && setError !== undefined) {
        setError(errorMessage(err))
        ;(f === 'scopes' ? pickerFor(errorMessage(err)) ?? { focus: () => allBox.focus() } : focusFor[f])?.focus()
      } else {
        formError.textContent = errorMessage(err)
        formError.hidden = false
      }
    })
  })

  modal.body.appendChild(form)
  name.focus()
}

function snippetServers (ctx: AppContext, key: CreatedApiKey, everyServer: McpServer[]): SnippetServer[] {
  const known = new Map<string, McpServer>(ctx.servers.map(s => [s.id, s]))
  if (key.mcpServerIds[0] === '*') return everyServer.map(s => ({ id: s.id, name: s.name }))
  return key.mcpServerIds.map(id => ({ id, name: known.get(id)?.name ?? id }))
}

function copyButton (label: string, text: () => string): HTMLButtonElement {
  const button = h('button', { type: 'button', class: 'secondary copy-button' }, label)
  button.addEventListener('click', () => {
    copyText(text()).then(ok => {
      button.textContent = ok ? 'Copied' : 'Copy failed'
      announce(ok ? 'Copied to the clipboard' : 'Copying failed: select the text and copy it by hand')
      setTimeout(() => { button.textContent = label }, 2000)
    }, () => {})
  })
  return button
}

/** Tabs (WAI-ARIA tabs pattern, arrow keys move between tabs) of client snippets. */
function snippetTabs (tabs: Array<{ label: string, text: string }>): HTMLElement {
  const tabButtons: HTMLButtonElement[] = []
  const panels: HTMLElement[] = []
  const select = (i: number, focus: boolean) => {
    tabButtons.forEach((b, j) => {
      b.setAttribute('aria-selected', String(i === j))
      b.tabIndex = i === j ? 0 : -1
      ;(panels[j] as HTMLElement).hidden = i !== j
    })
    if (focus) tabButtons[i]?.focus()
  }
  tabs.forEach((tab, i) => {
    const tabId = uid('tab')
    const panelId = uid('tabpanel')
    const button = h('button', { type: 'button', role: 'tab', id: tabId, 'aria-controls': panelId, onclick: () => select(i, false) }, tab.label)
    button.addEventListener('keydown', event => {
      if (event.key === 'ArrowRight') select((i + 1) % tabs.length, true)
      if (event.key === 'ArrowLeft') select((i - 1 + tabs.length) % tabs.length, true)
    })
    tabButtons.push(button)
    panels.push(h('div', { role: 'tabpanel', id: panelId, 'aria-labelledby': tabId, class: 'snippet', tabindex: 0 },
      h('pre', {}, h('code', {}, tab.text)),
      copyButton(`Copy ${tab.label} snippet`, () => tab.text)))
  })
  select(0, false)
  return h('div', { class: 'tabs' }, h('div', { role: 'tablist', 'aria-label': 'Client' }, tabButtons), panels)
}

export interface ShownKeyText {
  title: string
  /** What to do when the key is lost. */
  ifLost: string
  /** Said before the key (e.g. how long the old secret keeps working). */
  note?: Node | null
  /** The servers "*" reaches for the key's owner (default: the caller's). */
  everyServer?: McpServer[]
}

/** The one-time view of a full key (after create or rotate): copy button and client snippets. */
export function showKeyOnce (ctx: AppContext, modal: Modal, created: CreatedApiKey, text: ShownKeyText = { title: 'API key created', ifLost: 'If you lose it, delete it and create a new one.' }): void {
  modal.setTitle(text.title)
  const keyInput = h('input', { type: 'text', id: 'created-key', readonly: true, value: created.key, class: 'key-value', spellcheck: 'false', autocomplete: 'off' })
  keyInput.addEventListener('focus', () => keyInput.select())
  const servers = snippetServers(ctx, created, text.everyServer ?? choosableServers(ctx))
  const gateway = ctx.config.gatewayUrl
  const done = h('button', { type: 'button', class: 'primary', onclick: () => modal.close() }, 'Done')
  replaceChildren(modal.body,
    h('div', { class: 'notice warning' },
      h('strong', {}, 'Copy this key now. '),
      `It cannot be shown again: only a hash of it is stored. ${text.ifLost}`),
    text.note ?? null,
    h('div', { class: 'field' },
      h('label', { for: keyInput.id }, `API key “${created.name}”`),
      h('div', { class: 'key-row' }, keyInput, copyButton('Copy key', () => created.key))),
    h('h3', {}, 'Connect a client'),
    servers.length === 0
      ? h('p', { class: 'hint' }, 'The key is not scoped to any server you can reach right now.')
      : snippetTabs([
        { label: 'Claude Code', text: claudeCodeSnippet(gateway, servers, created.key) },
        { label: 'VS Code', text: vscodeSnippet(gateway, servers, created.key) },
        { label: 'curl', text: curlSnippet(gateway, servers, created.key) }
      ]),
    h('div', { class: 'dialog-actions' }, done))
  keyInput.focus()
}
