// The "Create API key" dialog: the form (with, per chosen server, what of it the key may use, and
// the key's own rate limit and quota), then the one-time view of the new key with copy buttons and
// ready-to-paste client snippets for the servers it was scoped to (shown again for a rotated key's
// new secret). An admin uses it for another user's keys too (a service account's, mostly): the
// servers offered are then the ones that user reaches, by the same access rule the gateway
// applies (core/access.ts), read from the admin's catalogue, which carries every server's rule.
import { ApiError, path, type CreatedApiKey, type McpServer, type User } from './api.ts'
import { userCanReach } from '../../core/access.ts'
import { limitsProblem, MAX_LIMIT } from '../../core/limits.ts'
import { parseKeyScopes, type KeyScopes } from '../../core/tool-scope.ts'
import { copyText } from './clipboard.ts'
import { choosableServers, type AppContext } from './context.ts'
import { openModal, type Modal } from './dialog.ts'
import { announce, h, replaceChildren, uid } from './dom.ts'
import { accountLabel, endOfLocalDay, formatCount, localDateValue } from './format.ts'
import { describeError, validationSentence } from './messages.ts'
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

/** The limits a key may set itself (the admin API's KeyLimits). */
const LIMIT_FIELDS = ['requestsPerMinute', 'toolCallsPerDay'] as const
type LimitField = typeof LIMIT_FIELDS[number]
const LIMIT_LABELS: Record<LimitField, string> = { requestsPerMinute: 'Requests per minute', toolCallsPerDay: 'Tool calls per day' }

/**
 * What is wrong with one limit as typed, in words that name the field, or null (with the number,
 * or undefined when left empty). The range is the API's own (core/limits.ts).
 */
function readLimit (f: LimitField, input: HTMLInputElement): { problem: string } | { value: number | undefined } {
  const text = input.value.trim()
  // A number input holding something that is not a number reads as '' with badInput set.
  if (text === '' && !input.validity.badInput) return { value: undefined }
  const n = Number(text)
  if (text === '' || limitsProblem({ [f]: n }) !== null) {
    return { problem: `${LIMIT_LABELS[f]}: enter a whole number from 1 to ${formatCount(MAX_LIMIT)}, or leave it empty for the default.` }
  }
  return { value: n }
}

export interface CreateKeyOptions {
  /**
   * The user the key is for, when an admin makes it for someone else — a service account, mostly
   * (POST /api/users/:id/api-keys); absent: the caller's own key.
   */
  owner?: User
  /** Where the focus goes on close when the opener is gone. */
  returnFocus?: () => HTMLElement | null
  /** The names of the owner's keys now, for a warning (not a refusal) when the new name repeats one. */
  existingNames?: readonly string[] | Promise<readonly string[]>
}

/** Names compare as a reader would tell them apart: trimmed, any case. */
function sameName (name: string): string {
  return name.trim().toLocaleLowerCase()
}

/**
 * The servers `owner` reaches now. An admin's GET /api/mcp-servers lists every server with its
 * access rule; the admin API has no route listing another user's servers, so the rule is applied
 * here, as the API applies it when the key is created. A server without a rule (never for an
 * admin) is judged by what the caller reaches.
 */
export function serversOf (ctx: AppContext, owner: User): McpServer[] {
  return ctx.servers.filter(s => s.access === undefined ? s.reachable !== false : userCanReach(s.access, owner))
}

/** Why `owner` is offered no server, for the admin making them a key. */
function noServersFor (owner: User): string {
  if (owner.disabled) return `${owner.name} is disabled: no server can be chosen until the account is enabled again.`
  return owner.kind === 'service'
    ? `${owner.name} cannot reach any MCP server: give it a group that a server's access rule names.`
    : `${owner.name} cannot reach any MCP server: a server's access rule must name their group, role or email.`
}

/** Said on the one-time view of a key made for someone else. */
function ownerNote (owner: User): HTMLElement {
  return owner.kind === 'service'
    ? h('p', { class: 'owner-note' }, 'This key belongs to the service account ', h('strong', {}, owner.name), ': it reaches what its groups grant.')
    : h('p', { class: 'owner-note' }, 'This key belongs to ', h('strong', {}, accountLabel(owner)), ', not to you: it reaches what their groups and role grant. Give it to them safely.')
}

export function openCreateKeyDialog (ctx: AppContext, onCreated: (key: CreatedApiKey) => void, options: CreateKeyOptions = {}): void {
  const owner = options.owner
  const modal = openModal({
    title: owner === undefined ? 'Create API key' : `Create API key for ${owner.name}`,
    className: 'create-key',
    ...(options.returnFocus === undefined ? {} : { returnFocus: options.returnFocus })
  })
  const servers = owner === undefined ? choosableServers(ctx) : serversOf(ctx, owner)
  const who = owner === undefined ? 'you' : owner.name

  const name = h('input', { type: 'text', id: 'key-name', name: 'name', required: true, maxlength: 100, autocomplete: 'off' })
  const description = h('textarea', { id: 'key-description', name: 'description', maxlength: 500, rows: 2 })
  const today = localDateValue(new Date())
  const expires = h('input', { type: 'date', id: 'key-expires', name: 'expiresAt', min: today })
  const nameField = field('Name', name, 'Required. Up to 100 characters.')
  // A repeated name is allowed (ids tell keys apart), but two "laptop" keys are hard to tell
  // apart in a list: said while typing, politely, and never blocking.
  const duplicate = h('p', { class: 'hint name-warning', id: 'key-name-duplicate', role: 'status' })
  nameField.wrapper.appendChild(duplicate)
  name.setAttribute('aria-describedby', `${name.getAttribute('aria-describedby') ?? ''} ${duplicate.id}`.trim())
  let taken = new Set<string>()
  const checkName = () => {
    const n = sameName(name.value)
    const whose = owner === undefined ? 'You already have' : `${owner.name} already has`
    duplicate.textContent = n !== '' && taken.has(n) ? `${whose} a key named “${name.value.trim()}”. You can keep the name, but a distinct one tells the keys apart.` : ''
  }
  name.addEventListener('input', checkName)
  Promise.resolve(options.existingNames ?? []).then(names => {
    taken = new Set(names.map(sameName))
    checkName()
  }, () => {})
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
        h('span', { class: 'option-description' }, `Every server ${who} can reach, now and later`))),
    servers.length === 0
      ? h('p', { class: 'hint' }, owner === undefined
        ? 'You cannot reach any MCP server yet. Ask an administrator for access.'
        : noServersFor(owner))
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

  // The key's own limits, folded away: most keys keep the gateway's defaults.
  const limitInputs: Record<LimitField, HTMLInputElement> = {
    requestsPerMinute: h('input', { type: 'number', id: 'key-requests-per-minute', name: 'requestsPerMinute', min: 1, step: 1, inputmode: 'numeric', autocomplete: 'off' }),
    toolCallsPerDay: h('input', { type: 'number', id: 'key-tool-calls-per-day', name: 'toolCallsPerDay', min: 1, step: 1, inputmode: 'numeric', autocomplete: 'off' })
  }
  const limitFields: Record<LimitField, FieldControl> = {
    requestsPerMinute: field(LIMIT_LABELS.requestsPerMinute, limitInputs.requestsPerMinute, 'Every server together; past it the gateway answers 429.'),
    toolCallsPerDay: field(LIMIT_LABELS.toolCallsPerDay, limitInputs.toolCallsPerDay, 'A UTC day (resets 00:00 UTC); past it a tool call is answered with an error.')
  }
  const limitsSection = h('details', { class: 'limits-field' },
    h('summary', {}, 'Limits (optional)'),
    h('p', { class: 'hint' }, `Leave empty for the gateway's defaults. Any total set for ${owner === undefined ? 'all of your keys' : `all of ${owner.name}'s keys`} applies as well.`),
    limitFields.requestsPerMinute.wrapper,
    limitFields.toolCallsPerDay.wrapper)
  /** The field the API's `limits.<name>: …` (`about`) is about (both when it names neither). */
  const setLimitsError = (message: string | null, about = '') => {
    const named = /^limits\.(requestsPerMinute|toolCallsPerDay)\b/.exec(about)?.[1] as LimitField | undefined
    for (const f of LIMIT_FIELDS) limitFields[f].setError(message === null || (named !== undefined && named !== f) ? null : message)
    if (message !== null) limitsSection.open = true
  }
  const limitsFocus = (about: string) => limitInputs[/^limits\.toolCallsPerDay\b/.test(about) ? 'toolCallsPerDay' : 'requestsPerMinute']

  const formError = h('p', { class: 'form-error', role: 'alert', hidden: true })
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create API key')
  const cancel = h('button', { type: 'button', class: 'secondary', onclick: () => modal.close() }, 'Cancel')
  const form = h('form', { novalidate: true, class: 'form' },
    nameField.wrapper, descriptionField.wrapper, expiresField.wrapper, serversFieldset, limitsSection, formError,
    h('div', { class: 'dialog-actions' }, cancel, submit))

  /** The picker a `scopes.<id>…` message is about. */
  const pickerFor = (about: string) => {
    const id = /^scopes\.([a-z0-9_-]+)/.exec(about)?.[1]
    const i = servers.findIndex(s => s.id === id)
    return i < 0 ? undefined : pickers[i]
  }
  const serverName = (id: string) => ctx.servers.find(s => s.id === id)?.name ?? id
  /**
   * Each field's error slot: `message` is what the reader sees; `about` the API's own wording
   * ("<field path>: <problem>"), which says where a scope or limit error goes.
   */
  const fieldErrors: Record<string, (message: string | null, about?: string) => void> = {
    name: nameField.setError,
    description: descriptionField.setError,
    expiresAt: expiresField.setError,
    mcpServerIds: setServersError,
    scopes: (message, about = '') => {
      if (message === null) for (const p of pickers) p.setError(null)
      else (pickerFor(about)?.setError ?? setServersError)(message)
    },
    limits: setLimitsError
  }
  const focusFor: Record<string, HTMLElement> = { name, description, expiresAt: expires, mcpServerIds: allBox }

  form.addEventListener('submit', event => {
    event.preventDefault()
    for (const set of Object.values(fieldErrors)) set(null)
    formError.hidden = true
    const problems: Array<[string, string]> = []
    const body: { name: string, description?: string, expiresAt?: string, mcpServerIds: string[], scopes?: KeyScopes, limits?: Partial<Record<LimitField, number>> } = { name: name.value.trim(), mcpServerIds: [] }
    if (body.name === '') problems.push(['name', 'Enter a name for the key.'])
    if (description.value.trim() !== '') body.description = description.value.trim()
    if (expires.value !== '') {
      const end = endOfLocalDay(expires.value)
      if (end === null) problems.push(['expiresAt', 'Enter a valid date.'])
      else if (expires.value < localDateValue(new Date())) problems.push(['expiresAt', 'The expiration date cannot be in the past.'])
      else body.expiresAt = end.toISOString()
    }
    // The API's range (core/limits.ts), checked here so that the message names the field.
    const limits: Partial<Record<LimitField, number>> = {}
    let limitProblem: HTMLElement | null = null
    for (const f of LIMIT_FIELDS) {
      const read = readLimit(f, limitInputs[f])
      if ('problem' in read) {
        limitFields[f].setError(read.problem)
        limitsSection.open = true
        limitProblem ??= limitInputs[f]
      } else if (read.value !== undefined) {
        limits[f] = read.value
      }
    }
    if (Object.keys(limits).length > 0) body.limits = limits
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
      const about = `${checked.field}: ${checked.problem}`
      fieldErrors.scopes?.(validationSentence(about, serverName), about)
      scopeProblem ??= allBox
    } else if (checked.scopes !== null) {
      body.scopes = checked.scopes
    }
    if (problems.length > 0 || scopeProblem !== null || limitProblem !== null) {
      for (const [f, message] of problems) fieldErrors[f]?.(message)
      const first = problems[0]?.[0]
      ;(first === undefined ? scopeProblem ?? limitProblem : focusFor[first])?.focus()
      return
    }
    submit.disabled = true
    submit.textContent = 'Creating…'
    const route = owner === undefined ? '/api/api-keys' : path`/api/users/${owner.id}/api-keys`
    ctx.api.post<CreatedApiKey>(route, body).then(created => {
      onCreated(created)
      showKeyOnce(ctx, modal, created, owner === undefined
        ? undefined
        : {
            title: 'API key created',
            ifLost: 'If it is lost, delete it and create a new one.',
            note: ownerNote(owner),
            everyServer: servers
          })
    }, (err: unknown) => {
      submit.disabled = false
      submit.textContent = 'Create API key'
      const f = err instanceof ApiError ? err.field : null
      const about = err instanceof ApiError ? err.message : ''
      const setError = f === null ? undefined : fieldErrors[f]
      if (f !== null && setError !== undefined) {
        setError(describeError(err, serverName), about)
        ;(f === 'scopes' ? pickerFor(about) ?? { focus: () => allBox.focus() } : f === 'limits' ? limitsFocus(about) : focusFor[f])?.focus()
      } else {
        formError.textContent = describeError(err, serverName)
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

/**
 * The one-time view of a full key (after create or rotate): copy button and client snippets.
 * Escape asks before closing: the key is gone once the dialog is.
 */
export function showKeyOnce (ctx: AppContext, modal: Modal, created: CreatedApiKey, text: ShownKeyText = { title: 'API key created', ifLost: 'If you lose it, delete it and create a new one.' }): void {
  modal.setTitle(text.title)
  const keyInput = h('input', { type: 'text', id: 'created-key', readonly: true, value: created.key, class: 'key-value', spellcheck: 'false', autocomplete: 'off' })
  keyInput.addEventListener('focus', () => keyInput.select())
  const servers = snippetServers(ctx, created, text.everyServer ?? choosableServers(ctx))
  const gateway = ctx.config.gatewayUrl
  const done = h('button', { type: 'button', class: 'primary', onclick: () => modal.close() }, 'Done')
  // Escape would lose the key for good: the first asks (the focus goes to Done), a second closes.
  const warning = h('p', { class: 'notice warning close-warning', role: 'alert', hidden: true },
    h('strong', {}, 'Close without copying? '), 'This key cannot be shown again. Press Escape again to close, or choose Done once you have copied it.')
  let warned = false
  const ask = (event: Event) => {
    if (warned) return
    event.preventDefault()
    warned = true
    warning.hidden = false
    done.focus()
  }
  modal.dialog.addEventListener('keydown', event => { if (event.key === 'Escape') ask(event) })
  // Other close requests (a phone's back gesture) arrive as cancel.
  modal.dialog.addEventListener('cancel', ask)
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
    warning,
    h('div', { class: 'dialog-actions' }, done))
  keyInput.focus()
}
