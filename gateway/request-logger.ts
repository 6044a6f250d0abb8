// request.log without a logger per request. Fastify gives every request a child of the app's
// logger (bound to its request id) before the first hook runs; a proxied request that goes well
// logs nothing through it (its access line is written to the log stream, access-log.ts), so the
// child is made only when something is logged at an enabled level. That is work removed from
// every request (a pino child: an object, its bindings serialized to a string), not a gain the
// bench could resolve on its own (bench/README.md, round 7).
import type { FastifyBaseLogger } from 'fastify'

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'
type Bindings = Record<string, unknown>
type ChildOptions = Parameters<FastifyBaseLogger['child']>[1]

/** pino's; a logger without it is treated as logging every level. */
interface LevelAware { isLevelEnabled?: (level: string) => boolean }

export class LazyRequestLogger implements FastifyBaseLogger {
  readonly #parent: FastifyBaseLogger
  readonly #bindings: Bindings
  readonly #options: ChildOptions
  #child: FastifyBaseLogger | null = null

  constructor (parent: FastifyBaseLogger, bindings: Bindings, options?: ChildOptions) {
    this.#parent = parent
    this.#bindings = bindings
    this.#options = options
  }

  get level (): string {
    return (this.#child ?? this.#parent).level
  }

  set level (level: string) {
    this.#real().level = level
  }

  fatal (...args: unknown[]): void { this.#log('fatal', args) }
  error (...args: unknown[]): void { this.#log('error', args) }
  warn (...args: unknown[]): void { this.#log('warn', args) }
  info (...args: unknown[]): void { this.#log('info', args) }
  debug (...args: unknown[]): void { this.#log('debug', args) }
  trace (...args: unknown[]): void { this.#log('trace', args) }
  silent (): void {}

  child (bindings: Bindings, options?: ChildOptions): FastifyBaseLogger {
    return this.#real().child(bindings, options)
  }

  #log (level: Level, args: unknown[]): void {
    if (this.#child === null) {
      const aware = this.#parent as LevelAware
      if (typeof aware.isLevelEnabled === 'function' && !aware.isLevelEnabled(level)) return
    }
    (this.#real()[level] as (...a: unknown[]) => void)(...args)
  }

  #real (): FastifyBaseLogger {
    this.#child ??= this.#parent.child(this.#bindings, this.#options)
    return this.#child
  }
}

/**
 * Fastify's childLoggerFactory. A route's own log level or serializers need the child at once
 * (its level may differ from the app's); the gateway's routes set neither.
 */
export function lazyChildLogger (logger: FastifyBaseLogger, bindings: Bindings, options: NonNullable<ChildOptions>): FastifyBaseLogger {
  if (options.level !== undefined || options.serializers !== undefined) return logger.child(bindings, options)
  return new LazyRequestLogger(logger, bindings, options)
}
