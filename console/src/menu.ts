// A menu button (WAI-ARIA menu pattern): the three-dot row menu and the profile menu.
// Enter/Space/ArrowDown open it on the first item, arrows move, Escape closes and returns focus.
import { h } from './dom.ts'

export interface MenuItem {
  label: string
  onSelect: () => void
  danger?: boolean
}

export interface MenuButtonOptions {
  label: string
  /** Visible content of the button; defaults to the label. */
  content?: Node | string
  className?: string
  items: MenuItem[]
  align?: 'start' | 'end'
}

let openMenu: { close: (focusButton: boolean) => void } | null = null

document.addEventListener('click', () => openMenu?.close(false))

export function menuButton (options: MenuButtonOptions): HTMLElement {
  const button = h('button', {
    type: 'button',
    class: options.className ?? 'menu-button',
    'aria-haspopup': 'menu',
    'aria-expanded': 'false',
    'aria-label': options.content === undefined ? null : options.label
  }, options.content ?? options.label)
  const items = options.items.map(item => h('button', {
    type: 'button',
    role: 'menuitem',
    tabindex: '-1',
    class: item.danger === true ? 'danger' : null
  }, item.label))
  const menu = h('div', { role: 'menu', class: `menu menu-${options.align ?? 'end'}`, hidden: true }, items)
  const wrapper = h('div', { class: 'menu-wrapper' }, button, menu)

  const focusItem = (i: number) => items[(i + items.length) % items.length]?.focus()
  const close = (focusButton: boolean) => {
    menu.hidden = true
    button.setAttribute('aria-expanded', 'false')
    if (openMenu?.close === close) openMenu = null
    if (focusButton) button.focus()
  }
  const open = (focusIndex: number) => {
    openMenu?.close(false)
    menu.hidden = false
    button.setAttribute('aria-expanded', 'true')
    openMenu = { close }
    focusItem(focusIndex)
  }

  button.addEventListener('click', event => {
    event.stopPropagation()
    if (menu.hidden) open(0)
    else close(true)
  })
  button.addEventListener('keydown', event => {
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault()
      open(event.key === 'ArrowDown' ? 0 : items.length - 1)
    }
  })
  items.forEach((el, i) => {
    el.addEventListener('click', event => {
      event.stopPropagation()
      close(true)
      options.items[i]?.onSelect()
    })
  })
  menu.addEventListener('keydown', event => {
    const current = items.indexOf(document.activeElement as HTMLButtonElement)
    if (event.key === 'ArrowDown') { event.preventDefault(); focusItem(current + 1) }
    if (event.key === 'ArrowUp') { event.preventDefault(); focusItem(current - 1) }
    if (event.key === 'Home') { event.preventDefault(); focusItem(0) }
    if (event.key === 'End') { event.preventDefault(); focusItem(items.length - 1) }
    if (event.key === 'Escape') { event.preventDefault(); close(true) }
    if (event.key === 'Tab') close(false)
  })
  return wrapper
}
