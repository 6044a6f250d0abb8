// The OAuth consent page (OAuth mode): an MCP client that cannot send an API key (ChatGPT,
// Copilot, claude.ai) asks to connect as the signed-in user. The page names the client and the
// host it will send the grant to, and the user picks what it may reach — the servers and tools
// of a key, with the key form's scope picker — or denies. The grant becomes one of the user's
// keys ("OAuth · <client>"), revoked by deleting it on the API Keys page.
//
// The requests go to /oauth/interaction/<uid>/… with this browser's cookies: the authorization
// server answers only the browser that started the authorization.
import { ApiError, path, type McpServer } from '../api.ts'
import type { AppContext } from '../context.ts'
import { choosableServers } from '../context.ts'
import { errorMessage } from '../dialog.ts'
import { h, replaceChildren, uid } from '../dom.ts'
import { scopePicker } from '../scope-picker.ts'
import type { KeyScopes } from '../../../core/tool-scope.ts'
import { loading, pageHeader } from './keys.ts'

interface InteractionDetails {
  uid: string
  client: { id: string, name: string, redirectHost: string }
  resources: string[]
  serverIds: string[]
  user: { id: string, email: string, name: string }
  grantTtlDays: number
  /** The user's earlier grants to this client for these servers, which allowing replaces. */
  replaces: number
}

export async function renderConsent (ctx: AppContext, section: HTMLElement, params: URLSearchParams): Promise<void> {
  const interaction = params.get('uid') ?? ''
  replaceChildren(section, pageHeader('Allow access'), loading())
  let details: InteractionDetails
  try {
    details = await ctx.api.request<InteractionDetails>('GET', path`/oauth/interaction/${interaction}/details`, undefined, true)
  } catch (err) {
    const gone = err instanceof ApiError && err.code === 'MCPGATE_OAUTH_INTERACTION_NOT_FOUND'
    replaceChildren(section, pageHeader('Allow access'),
      h('div', { class: 'notice error', role: 'alert' },
        h('p', {}, gone ? 'This request to connect is unknown or has expired, or it was started in another browser.' : errorMessage(err)),
        h('p', {}, 'Start again from the application you were connecting.')))
    return
  }

  const client = details.client
  const servers = choosableServers(ctx)
  const requested = new Set(details.serverIds)
  const boxes = servers.map(s => h('input', {
    type: 'checkbox',
    name: 'mcpServerIds',
    value: s.id,
    id: uid('consent-server'),
    checked: requested.has(s.id),
    // The server the client asked for is the one its token is for: it cannot be left out.
    disabled: requested.has(s.id)
  }))
  const pickers = servers.map(s => scopePicker(ctx, s))
  const sync = () => boxes.forEach((box, i) => pickers[i]?.setVisible(box.checked))
  for (const box of boxes) box.addEventListener('change', sync)
  sync()
  const formError = h('p', { class: 'form-error', role: 'alert', hidden: true })
  const allow = h('button', { type: 'submit', class: 'primary' }, 'Allow')
  const deny = h('button', { type: 'button', class: 'secondary' }, 'Deny')

  const who = details.user.name !== '' ? details.user.name : details.user.email
  const form = h('form', { class: 'form consent', novalidate: true },
    h('p', { class: 'page-intro' },
      h('strong', {}, client.name), ' wants to use MCP servers through mcpgate as ', h('strong', {}, who), '.'),
    h('dl', { class: 'consent-client' },
      h('dt', {}, 'Application'), h('dd', { 'data-field': 'client' }, client.name),
      h('dt', {}, 'Sends you back to'), h('dd', { 'data-field': 'redirect-host' }, h('code', {}, client.redirectHost)),
      client.id === client.name ? null : h('dt', {}, 'Client id'),
      client.id === client.name ? null : h('dd', {}, h('code', { class: 'client-id' }, client.id))),
    h('p', { class: 'hint' }, 'Only allow applications you trust, and only if you started this from them.'),
    h('fieldset', { class: 'field servers-field' },
      h('legend', {}, 'What it may reach'),
      servers.length === 0
        ? h('p', { class: 'hint' }, 'You cannot reach any MCP server. Ask an administrator for access.')
        : h('div', { class: 'server-options' }, servers.flatMap((s: McpServer, i) => {
          const box = boxes[i] as HTMLInputElement
          return [
            h('div', { class: 'checkbox-row' }, box,
              h('label', { for: box.id },
                h('span', { class: 'option-name' }, s.name),
                requested.has(s.id) ? h('span', { class: 'option-description' }, `Requested by ${client.name}`) : s.description === '' ? null : h('span', { class: 'option-description' }, s.description))),
            pickers[i]?.element
          ]
        }))),
    details.replaces === 0 ? null : h('p', { class: 'hint', 'data-field': 'replaces' }, `You allowed ${client.name} before; allowing again replaces that access, which stops working.`),
    h('p', { class: 'hint' }, `The access lasts ${details.grantTtlDays} days at most. It is listed with your API keys as “OAuth · ${client.name}”; delete it there to revoke it at once.`),
    formError,
    h('div', { class: 'dialog-actions' }, deny, allow))

  const leave = (to: string) => {
    allow.disabled = true
    deny.disabled = true
    location.assign(to)
  }
  const fail = (err: unknown) => {
    formError.textContent = errorMessage(err)
    formError.hidden = false
    allow.disabled = false
    deny.disabled = false
  }
  form.addEventListener('submit', event => {
    event.preventDefault()
    formError.hidden = true
    const mcpServerIds = servers.filter((_s, i) => boxes[i]?.checked === true).map(s => s.id)
    if (mcpServerIds.length === 0) {
      fail(new Error('Choose at least one MCP server.'))
      return
    }
    const scopes: KeyScopes = {}
    for (const [i, s] of servers.entries()) {
      if (boxes[i]?.checked !== true) continue
      const read = pickers[i]?.read()
      if (read === undefined) continue
      if (!read.ok) {
        read.focus.focus()
        return
      }
      if (read.rule !== undefined) scopes[s.id] = read.rule
    }
    allow.disabled = true
    deny.disabled = true
    ctx.api.request<{ redirectTo: string }>('POST', path`/oauth/interaction/${interaction}/consent`,
      { mcpServerIds, ...(Object.keys(scopes).length === 0 ? {} : { scopes }) }, true)
      .then(r => leave(r.redirectTo), fail)
  })
  deny.addEventListener('click', () => {
    allow.disabled = true
    deny.disabled = true
    ctx.api.request<{ redirectTo: string }>('POST', path`/oauth/interaction/${interaction}/deny`, {}, true).then(r => leave(r.redirectTo), fail)
  })
  replaceChildren(section, pageHeader(`Allow ${client.name}?`), form)
}
