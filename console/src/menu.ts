// A menu button (WAI-ARIA menu pattern): the three-dot row menu and the profile menu.
// Enter/Space/ArrowDown open it on the first item, arrows move, Escape closes and returns focus.
// The open menu is a popover in the top layer, placed beside its button: a table's scroll box
// (overflow) or a sticky cell's stacking context would otherwise clip or cover it.
import { h, uid } from './dom.ts'

export interface MenuItem {
  label: string
  onSelect: () => void
  danger?: boolean
  /**
   * Why the item cannot be chosen now (e.g. "You cannot disable your own account"): shown under
   * its label and read with it. The item stays focusable, so keyboard users meet the reason too.
   */
  disabledReason?: string
}

export interface MenuButtonOptions {
  label: string
  /** Visible content of the button; defaults to the label. */
  content?: Node | string
  className?: string
  items: MenuItem[]
  align?: 'start' | 'end'
}

/** Space kept between the menu and the viewport's edges, and between the menu and its button (px). */
const EDGE = 8
const GAP = 4

let openMenu: { close: (focusButton: boolean) => void } | null = null

document.addEventListener('click', () => openMenu?.close(false))

/**
 * Where the menu goes: under the button (over it when there is no room below), its end edge on
 * the button's ('end') or its start edge ('start'), always inside the viewport.
 */
function place (menu: HTMLElement, button: HTMLElement, align: 'start' | 'end'): void {
  const b = button.getBoundingClientRect()
  const m = menu.getBoundingClientRect()
  const width = document.documentElement.clientWidth
  const height = document.documentElement.clientHeight
  const left = Math.min(Math.max(EDGE, align === 'end' ? b.right - m.width : b.left), Math.max(EDGE, width - m.width - EDGE))
  const below = b.bottom + GAP
  const above = b.top - GAP - m.height
  const top = below + m.height <= height - EDGE || above < EDGE ? Math.max(EDGE, Math.min(below, height - m.height - EDGE)) : above
  menu.style.left = `${Math.round(left)}px`
  menu.style.top = `${Math.round(top)}px`
}

export function menuButton (options: MenuButtonOptions): HTMLElement {
  const align = options.align ?? 'end'
  const button = h('button', {
    type: 'button',
    class: options.className ?? 'menu-button',
    'aria-haspopup': 'menu',
    'aria-expanded': 'false',
    'aria-label': options.content === undefined ? null : options.label
  }, options.content ?? options.label)
  const items = options.items.map(item => {
    if (item.disabledReason === undefined) {
      return h('button', { type: 'button', role: 'menuitem', tabindex: '-1', class: item.danger === true ? 'danger' : null }, item.label)
    }
    const labelId = uid('menu-item')
    const reasonId = uid('menu-reason')
    return h('button', {
      type: 'button',
      role: 'menuitem',
      tabindex: '-1',
      class: 'unavailable',
      'aria-disabled': 'true',
      'aria-labelledby': labelId,
      'aria-describedby': reasonId
    }, h('span', { id: labelId }, item.label), h('span', { class: 'menu-reason', id: reasonId }, item.disabledReason))
  })
  const menu = h('div', { role: 'menu', class: `menu menu-${align}`, hidden: true }, items)
  // The top layer where the browser has it (every current one); else a fixed box, placed the same.
  const popover = typeof menu.showPopover === 'function'
  if (popover) {
    menu.hidden = false
    menu.popover = 'manual'
  }
  const wrapper = h('div', { class: 'menu-wrapper' }, button, menu)
  const isOpen = () => button.getAttribute('aria-expanded') === 'true'

  // While open, the menu follows its button when the page or a table scrolls, and closes once
  // the button has left the viewport.
  const follow = () => {
    const b = button.getBoundingClientRect()
    if (b.bottom < 0 || b.top > document.documentElement.clientHeight || !button.isConnected) close(false)
    else place(menu, button, align)
  }
  // preventScroll: the menu is placed in the viewport already; focusing must not scroll the table.
  const focusItem = (i: number) => items[(i + items.length) % items.length]?.focus({ preventScroll: true })
  const close = (focusButton: boolean) => {
    if (popover) {
      if (menu.matches(':popover-open')) menu.hidePopover()
    } else {
      menu.hidden = true
    }
    button.setAttribute('aria-expanded', 'false')
    document.removeEventListener('scroll', follow, { capture: true })
    window.removeEventListener('resize', follow)
    if (openMenu?.close === close) openMenu = null
    if (focusButton) button.focus()
  }
  const open = (focusIndex: number) => {
    openMenu?.close(false)
    if (popover) menu.showPopover()
    else menu.hidden = false
    place(menu, button, align)
    button.setAttribute('aria-expanded', 'true')
    openMenu = { close }
    document.addEventListener('scroll', follow, { capture: true, passive: true })
    window.addEventListener('resize', follow)
    focusItem(focusIndex)
  }

  button.addEventListener('click', event => {
    event.stopPropagation()
    if (isOpen()) close(true)
    else open(0)
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
      // An unavailable item keeps the menu open: its reason stays in view.
      if (options.items[i]?.disabledReason !== undefined) return
      close(true)
      options.items[i]?.onSelect()
    })
  })
  menu.addEventListener('click', event => event.stopPropagation())
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
