// The sign-in screen: single sign-on (OIDC, when configured) or the bootstrap admin token.
import { beginOidcLogin, type ConsoleConfig } from '../auth.ts'
import { errorMessage } from '../dialog.ts'
import { h, replaceChildren } from '../dom.ts'
import { field } from '../create-key.ts'

export interface SignInOptions {
  config: ConsoleConfig
  /** Shown above the form (session expired, sign-in failed…). */
  message?: string
  /** Checks a pasted token (GET /api/me) and starts the console; rejects with a readable error. */
  useToken: (token: string) => Promise<void>
}

export function renderSignIn (root: HTMLElement, options: SignInOptions): void {
  const notice = h('div', { class: 'notice error', role: 'alert', hidden: options.message === undefined }, options.message ?? '')
  const showError = (err: unknown) => {
    notice.textContent = errorMessage(err)
    notice.hidden = false
  }

  const oidc = options.config.oidc
  const sso = oidc === null
    ? null
    : h('button', {
      type: 'button',
      class: 'primary wide',
      onclick: (event: Event) => {
        const button = event.currentTarget as HTMLButtonElement
        button.disabled = true
        button.textContent = 'Redirecting…'
        beginOidcLogin(oidc).catch((err: unknown) => {
          button.disabled = false
          button.textContent = 'Sign in with single sign-on'
          showError(err)
        })
      }
    }, 'Sign in with single sign-on')

  const token = h('input', { type: 'password', id: 'admin-token', name: 'token', autocomplete: 'off', spellcheck: 'false', required: true })
  const tokenField = field('Admin token', token, 'The bootstrap token from MCPGATE_ADMIN_TOKEN. It stays in this tab only.')
  const submit = h('button', { type: 'submit', class: oidc === null ? 'primary wide' : 'secondary wide' }, 'Sign in with token')
  const form = h('form', { class: 'form', novalidate: true }, tokenField.wrapper, submit)
  form.addEventListener('submit', event => {
    event.preventDefault()
    tokenField.setError(null)
    const value = token.value.trim()
    if (value === '') {
      tokenField.setError('Paste the admin token.')
      token.focus()
      return
    }
    submit.disabled = true
    options.useToken(value).catch((err: unknown) => {
      submit.disabled = false
      tokenField.setError(errorMessage(err))
      token.focus()
    })
  })

  replaceChildren(root, h('main', { class: 'sign-in', id: 'main' },
    h('div', { class: 'sign-in-card' },
      h('div', { class: 'brand large' }, h('img', { src: '/favicon.svg', alt: '', width: 32, height: 32 }), 'mcpgate'),
      h('h1', {}, 'Sign in to the console'),
      notice,
      sso,
      oidc === null
        ? null
        : h('details', { class: 'token-sign-in' }, h('summary', {}, 'Bootstrap: sign in with the admin token'), form),
      oidc === null ? form : null)))
  if (sso !== null) sso.focus()
  else token.focus()
}
