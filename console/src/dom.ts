// Tiny DOM helpers: build elements from data without ever parsing HTML (no innerHTML, so
// names and descriptions typed by users can never become markup).
type Child = Node | string | number | null | undefined | false
type AttrValue = string | number | boolean | null | undefined
export type Attrs = Record<string, AttrValue | ((event: Event) => void)>

export function h<K extends keyof HTMLElementTagNameMap> (
  tag: K,
  attrs: Attrs = {},
  ...children: Array<Child | Child[]>
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  for (const [name, value] of Object.entries(attrs)) {
    if (typeof value === 'function') {
      el.addEventListener(name.slice(2).toLowerCase(), value)
    } else if (value === true) {
      el.setAttribute(name, '')
    } else if (value !== false && value !== null && value !== undefined) {
      el.setAttribute(name, String(value))
    }
  }
  append(el, children)
  return el
}

export function append (parent: Node, children: Array<Child | Child[]>): void {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue
    parent.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)))
  }
}

export function clear (el: Element): void {
  while (el.firstChild !== null) el.removeChild(el.firstChild)
}

export function replaceChildren (el: Element, ...children: Array<Child | Child[]>): void {
  clear(el)
  append(el, children)
}

let idCounter = 0
/** Unique element ids for label/aria wiring. */
export function uid (prefix: string): string {
  idCounter += 1
  return `${prefix}-${idCounter}`
}

/** A polite live region shared by the app, for "Copied", "Deleted" and similar announcements. */
export function announce (message: string): void {
  const region = document.getElementById('announcer')
  if (region === null) return
  region.textContent = ''
  // A fresh text node on the next frame makes screen readers repeat identical messages.
  requestAnimationFrame(() => { region.textContent = message })
}
