// Modal dialogs on the native <dialog> element: it traps focus, closes on Escape and restores
// focus to the opener, which is most of what a keyboard user needs.
import { h, uid } from './dom.ts'
import { describeError, isTransient } from './messages.ts'

export interface ModalOptions {
  title: string
  className?: string
  onClose?: () => void
  /** Where the focus goes on close when the opener is gone (re-rendered meanwhile, e.g. a table row). */
  returnFocus?: () => HTMLElement | null
}

export interface Modal {
  dialog: HTMLDialogElement
  body: HTMLElement
  setTitle: (title: string) => void
  close: () => void
}

export function openModal (options: ModalOptions): Modal {
  const titleId = uid('dialog-title')
  const heading = h('h2', { id: titleId }, options.title)
  const body = h('div', { class: 'dialog-body' })
  const dialog = h('dialog', { class: `dialog ${options.className ?? ''}`, 'aria-labelledby': titleId }, heading, body)
  const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null
  dialog.addEventListener('close', () => {
    dialog.remove()
    options.onClose?.()
    if (opener !== null && opener.isConnected) opener.focus()
    else options.returnFocus?.()?.focus()
  })
  document.body.appendChild(dialog)
  dialog.showModal()
  return {
    dialog,
    body,
    setTitle: (title: string) => { heading.textContent = title },
    close: () => dialog.close()
  }
}

/** What went wrong, in the reader's words (messages.ts), never the API's raw message. */
export function errorMessage (error: unknown): string {
  return describeError(error)
}

/**
 * What went wrong loading a page or part of it; with `retry`, a Retry button when trying again may
 * help (the admin API could not be reached, or failed on its side).
 */
export function errorNotice (error: unknown, retry?: () => void): HTMLElement {
  return h('div', { class: 'notice error', role: 'alert' },
    h('p', {}, errorMessage(error)),
    retry !== undefined && isTransient(error) ? h('p', {}, h('button', { type: 'button', class: 'secondary retry', onclick: retry }, 'Retry')) : null)
}

export interface ConfirmOptions {
  title: string
  message: Node | string
  confirmLabel: string
  /** Runs on confirm; a thrown error is shown in the dialog, which stays open. */
  action: () => Promise<void>
}

/** Resolves true when the action ran successfully, false when cancelled. */
export function confirmDialog (options: ConfirmOptions): Promise<boolean> {
  return new Promise(resolve => {
    let done = false
    const modal = openModal({ title: options.title, className: 'confirm', onClose: () => resolve(done) })
    const error = h('p', { class: 'form-error', role: 'alert', hidden: true })
    const cancel = h('button', { type: 'button', class: 'secondary', onclick: () => modal.close() }, 'Cancel')
    const confirm = h('button', { type: 'submit', class: 'danger' }, options.confirmLabel)
    const form = h('form', { method: 'dialog' },
      h('div', { class: 'confirm-message' }, options.message),
      error,
      h('div', { class: 'dialog-actions' }, cancel, confirm))
    form.addEventListener('submit', event => {
      event.preventDefault()
      confirm.disabled = true
      cancel.disabled = true
      error.hidden = true
      options.action().then(() => {
        done = true
        modal.close()
      }, (err: unknown) => {
        error.textContent = errorMessage(err)
        error.hidden = false
        confirm.disabled = false
        cancel.disabled = false
      })
    })
    modal.body.appendChild(form)
    // Safer default: the focus starts on Cancel.
    cancel.focus()
  })
}
