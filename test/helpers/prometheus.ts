// A strict parser of the Prometheus text exposition format (version 0.0.4) for tests: it throws on
// anything a Prometheus server would reject or that breaks the format's rules (sample before its
// TYPE, duplicate series, bad names, bad escapes, histogram buckets that are not cumulative or whose
// +Inf bucket differs from _count), and returns the samples for assertions.

export interface Sample {
  /** The sample's own name, e.g. `x_bucket` of histogram `x`. */
  name: string
  labels: Record<string, string>
  value: number
}

export interface Family {
  name: string
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped'
  help: string
  samples: Sample[]
}

export interface Exposition {
  families: Map<string, Family>
  /** The value of one series; undefined when absent. Labels must match exactly. */
  value(name: string, labels?: Record<string, string>): number | undefined
  /** Sum over every series of `name` whose labels include `labels`. */
  sum(name: string, labels?: Record<string, string>): number
  /** Every label value that appears anywhere. */
  labelValues(): string[]
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped'])

/** As Prometheus reads values (Go's strconv.ParseFloat: special values in any case; prom-client writes `Nan`). */
function parseValue (text: string, line: string): number {
  const special = text.toLowerCase()
  if (special === '+inf' || special === 'inf') return Infinity
  if (special === '-inf') return -Infinity
  if (special === 'nan') return NaN
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad sample value "${text}" in: ${line}`)
  return Number(text)
}

/** `{a="x",b="y\"z"}` starting at text[0] === '{'; returns the labels and the rest of the line. */
function parseLabels (text: string, line: string): { labels: Record<string, string>, rest: string } {
  const labels: Record<string, string> = {}
  let i = 1
  for (;;) {
    if (text[i] === '}') return { labels, rest: text.slice(i + 1) }
    const eq = text.indexOf('=', i)
    if (eq < 0) throw new Error(`unterminated labels in: ${line}`)
    const name = text.slice(i, eq)
    if (!LABEL_NAME.test(name)) throw new Error(`bad label name "${name}" in: ${line}`)
    if (name in labels) throw new Error(`duplicate label "${name}" in: ${line}`)
    if (text[eq + 1] !== '"') throw new Error(`label value not quoted in: ${line}`)
    let value = ''
    let j = eq + 2
    for (;;) {
      const c = text[j]
      if (c === undefined) throw new Error(`unterminated label value in: ${line}`)
      if (c === '"') break
      if (c === '\\') {
        const next = text[j + 1]
        if (next === 'n') value += '\n'
        else if (next === '\\' || next === '"') value += next
        else throw new Error(`bad escape \\${next ?? ''} in: ${line}`)
        j += 2
        continue
      }
      value += c
      j++
    }
    labels[name] = value
    i = j + 1
    if (text[i] === ',') i++
    else if (text[i] !== '}') throw new Error(`expected , or } after label "${name}" in: ${line}`)
  }
}

function familyOf (sampleName: string, families: Map<string, Family>): Family | undefined {
  const exact = families.get(sampleName)
  if (exact !== undefined) return exact
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sampleName.endsWith(suffix)) continue
    const f = families.get(sampleName.slice(0, -suffix.length))
    if (f !== undefined && (f.type === 'histogram' || f.type === 'summary')) return f
  }
  return undefined
}

function checkHistogram (f: Family): void {
  const series = new Map<string, { buckets: Array<[number, number]>, count?: number, sum?: number }>()
  for (const s of f.samples) {
    const { le, ...rest } = s.labels
    const key = JSON.stringify(Object.entries(rest).sort())
    let entry = series.get(key)
    if (entry === undefined) series.set(key, entry = { buckets: [] })
    if (s.name === `${f.name}_bucket`) {
      if (le === undefined) throw new Error(`${f.name}_bucket without le`)
      entry.buckets.push([parseValue(le, `le="${le}"`), s.value])
    } else if (s.name === `${f.name}_count`) entry.count = s.value
    else if (s.name === `${f.name}_sum`) entry.sum = s.value
    else throw new Error(`unexpected sample ${s.name} in histogram ${f.name}`)
  }
  for (const [key, e] of series) {
    if (e.count === undefined || e.sum === undefined) throw new Error(`histogram ${f.name}${key} lacks _count or _sum`)
    const last = e.buckets.at(-1)
    if (last === undefined || last[0] !== Infinity) throw new Error(`histogram ${f.name}${key} lacks the +Inf bucket`)
    for (let i = 1; i < e.buckets.length; i++) {
      const [prevLe, prevN] = e.buckets[i - 1] as [number, number]
      const [le, n] = e.buckets[i] as [number, number]
      if (!(le > prevLe)) throw new Error(`histogram ${f.name}${key}: le not increasing`)
      if (n < prevN) throw new Error(`histogram ${f.name}${key}: buckets not cumulative`)
    }
    if (last[1] !== e.count) throw new Error(`histogram ${f.name}${key}: +Inf bucket ${last[1]} != _count ${e.count}`)
  }
}

export function parsePrometheusText (text: string): Exposition {
  const families = new Map<string, Family>()
  const seen = new Set<string>()
  const finished = new Set<string>()
  let current: Family | undefined
  if (text !== '' && !text.endsWith('\n')) throw new Error('exposition must end with a newline')
  for (const line of text.split('\n')) {
    if (line === '') continue
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line)
      if (m === null) continue // a plain comment
      const [, kind, name, rest] = m as unknown as [string, 'HELP' | 'TYPE', string, string]
      if (!METRIC_NAME.test(name)) throw new Error(`bad metric name "${name}"`)
      let f = families.get(name)
      if (f === undefined) {
        if (finished.has(name)) throw new Error(`family ${name} appears twice`)
        f = { name, type: 'untyped', help: '', samples: [] }
        families.set(name, f)
      } else if (f !== current) {
        throw new Error(`family ${name} is split across the exposition`)
      }
      if (current !== undefined && current !== f) finished.add(current.name)
      current = f
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`bad type "${rest}" for ${name}`)
        if (f.samples.length > 0) throw new Error(`TYPE of ${name} after its samples`)
        f.type = rest as Family['type']
      } else {
        f.help = rest
      }
      continue
    }
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)
    if (nameMatch === null) throw new Error(`bad sample line: ${line}`)
    const name = nameMatch[0]
    let rest = line.slice(name.length)
    let labels: Record<string, string> = {}
    if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest, line))
    const parts = rest.trim().split(/\s+/)
    if (!rest.startsWith(' ') || parts.length < 1 || parts.length > 2) throw new Error(`bad sample line: ${line}`)
    const value = parseValue(parts[0] as string, line)
    const family = familyOf(name, families)
    if (family === undefined) throw new Error(`sample ${name} has no TYPE/HELP before it`)
    if (family !== current) throw new Error(`sample ${name} is not inside its family's block`)
    if (family.type === 'counter' && !(value >= 0)) throw new Error(`counter ${name} is negative or NaN`)
    const id = name + JSON.stringify(Object.entries(labels).sort())
    if (seen.has(id)) throw new Error(`duplicate series ${id}`)
    seen.add(id)
    family.samples.push({ name, labels, value })
  }
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f)

  const matches = (labels: Record<string, string>, want: Record<string, string>): boolean =>
    Object.entries(want).every(([k, v]) => labels[k] === v)
  const all = (): Sample[] => [...families.values()].flatMap(f => f.samples)
  return {
    families,
    value (name, labels = {}) {
      const want = Object.entries(labels).sort()
      return all().find(s => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === JSON.stringify(want))?.value
    },
    sum (name, labels = {}) {
      return all().filter(s => s.name === name && matches(s.labels, labels)).reduce((n, s) => n + s.value, 0)
    },
    labelValues () {
      return all().flatMap(s => Object.values(s.labels))
    }
  }
}
