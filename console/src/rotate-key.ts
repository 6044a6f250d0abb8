// The "Rotate" dialog: choose how long the old secret keeps working, rotate, then show the new key
// once exactly as after create (copy button, client snippets). Same key id, servers and expiry.
import { path, type ApiKey, type CreatedApiKey, type McpServer } from './api.ts'
import type { AppContext } from './context.ts'
import { showKeyOnce } from './create-key.ts'
import { errorMessage, openModal } from './dialog.ts'
import { h, uid } from './dom.ts'
import { parseTime, timeElement, userLabel } from './format.ts'
import { previousSecretWorks } from './key-columns.ts'

/** The overlap choices; 24 hours is the API's default (admin.rotationOverlapSeconds) out of the box. */
export const OVERLAP_CHOICES: ReadonlyArray<{ seconds: number, label: string }> = [
  { seconds: 0, label: 'At once' },
  { seconds: 3600, label: '1 hour' },
  { seconds: 86400, label: '24 hours' },
  { seconds: 604800, label: '7 days' }
]
const DEFAULT_OVERLAP = 86400

export interface RotateKeyOptions {
  /** true: the admin route (any key); false: the caller's own key. */
  admin: boolean
  /** The servers "*" reaches for the key's owner, for the snippets. */
  everyServer?: McpServer[]
  onRotated: (key: ApiKey) => void
}

export function openRotateKeyDialog (ctx: AppContext, key: ApiKey, options: RotateKeyOptions): void {
  const modal = openModal({
    title: 'Rotate API key',
    className: 'rotate-key',
    // The row is re-rendered with the rotation while the dialog is open: back to its new menu button.
    returnFocus: () => document.querySelector<HTMLElement>(`[data-key-actions="${CSS.escape(key.id)}"] > button`)
  })
  const name = uid('overlap')
  const radios = OVERLAP_CHOICES.map(choice => h('input', { type: 'radio', name, value: choice.seconds, id: uid('overlap'), checked: choice.seconds === DEFAULT_OVERLAP }))
  const expires = parseTime(key.expiresAt)
  const hintId = uid('overlap-hint')
  const overlap = h('fieldset', { class: 'field overlap-field', 'aria-describedby': hintId },
    h('legend', {}, 'Old key keeps working for'),
    h('div', { class: 'radio-row' }, OVERLAP_CHOICES.map((choice, i) => {
      const radio = radios[i] as HTMLInputElement
      return h('span', { class: 'radio-option' }, radio, h('label', { for: radio.id }, choice.seconds === DEFAULT_OVERLAP ? `${choice.label} (default)` : choice.label))
    })),
    h('p', { class: 'hint', id: hintId },
      'Time for the clients that use it to switch to the new key; then every gateway refuses the old one.',
      expires === null ? null : [' Never past the key\'s expiry (', timeElement(key.expiresAt, ''), ').']))
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true })
  const cancel = h('button', { type: 'button', class: 'secondary', onclick: () => modal.close() }, 'Cancel')
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Rotate key')
  const form = h('form', { class: 'form', novalidate: true },
    h('p', {}, 'Give the API key ', h('strong', {}, `“${key.name}”`),
      key.user === undefined ? null : ` of ${userLabel(key.user)}`,
      ' a new secret. Its id, servers, tools and expiry stay the same; the new key is shown once.'),
    previousSecretWorks(key, Date.now())
      ? h('div', { class: 'notice warning' }, 'This key was rotated recently and its previous secret still works. Rotating again stops that one at once: only the secret in use now gets the overlap.')
      : null,
    overlap,
    error,
    h('div', { class: 'dialog-actions' }, cancel, submit))

  form.addEventListener('submit', event => {
    event.preventDefault()
    const chosen = radios.find(r => r.checked)
    const overlapSeconds = Number(chosen?.value ?? DEFAULT_OVERLAP)
    submit.disabled = true
    cancel.disabled = true
    submit.textContent = 'Rotating…'
    error.hidden = true
    const route = options.admin ? path`/api/admin-api-keys/${key.id}/rotate` : path`/api/api-keys/${key.id}/rotate`
    ctx.api.post<CreatedApiKey>(route, { overlapSeconds }).then(rotated => {
      const { key: _secret, ...record } = rotated
      // The admin route answers the record without its owner; the table row keeps showing them.
      options.onRotated(key.user === undefined ? record : { ...record, user: key.user })
      const stillWorks = previousSecretWorks(record, Date.now())
      showKeyOnce(ctx, modal, rotated, {
        title: 'API key rotated',
        ifLost: 'If you lose it, rotate the key again.',
        note: h('p', { class: 'rotation-note' }, stillWorks
          ? ['The old key keeps working until ', timeElement(record.previousSecretValidUntil ?? null, ''), '; then every gateway refuses it.']
          : 'The old key no longer works: clients must use the new one now.'),
        ...(options.everyServer === undefined ? {} : { everyServer: options.everyServer })
      })
    }, (err: unknown) => {
      submit.disabled = false
      cancel.disabled = false
      submit.textContent = 'Rotate key'
      error.textContent = errorMessage(err)
      error.hidden = false
    })
  })
  modal.body.appendChild(form)
  radios.find(r => r.checked)?.focus()
}
