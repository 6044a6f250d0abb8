// Preloaded (node --import) into a real `mcpgate` process by test/helpers/processes.ts: answers the
// test's questions over IPC — the gateway's app.mcpgate.stats and cache sizes, and the event-loop
// delay seen inside that process — without changing how the process runs. It only observes: it
// finds the Fastify instances through fastify's own `fastify.initialization` diagnostics channel.
import { subscribe } from 'node:diagnostics_channel'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { FastifyInstance } from 'fastify'

export type ProbeQuestion = 'stats' | 'loop-delay' | 'loop-delay-reset'

export interface ProbeRequest { probe: ProbeQuestion, id: number }
export interface ProbeAnswer { probe: ProbeQuestion, id: number, value?: unknown, error?: string }

const apps: FastifyInstance[] = []
subscribe('fastify.initialization', message => { apps.push((message as { fastify: FastifyInstance }).fastify) })

const loop = monitorEventLoopDelay({ resolution: 5 })
loop.enable()

function gateway (): FastifyInstance {
  const app = apps.find(a => (a as Partial<FastifyInstance>).mcpgate?.stats !== undefined)
  if (app === undefined) throw new Error('no gateway app in this process (yet)')
  return app
}

const ms = (ns: number): number => Math.round(ns / 1e4) / 100

function answer (question: ProbeQuestion): unknown {
  switch (question) {
    case 'stats': {
      const control = gateway().mcpgate
      return { ...structuredClone(control.stats), cache: control.cache.size, lastUsedPending: control.lastUsed.pendingCount }
    }
    case 'loop-delay':
      return { p50: ms(loop.percentile(50)), p99: ms(loop.percentile(99)), max: ms(loop.max), mean: ms(loop.mean), count: loop.count }
    case 'loop-delay-reset':
      loop.reset()
      return true
  }
}

if (typeof process.send === 'function') {
  process.on('message', (message: ProbeRequest) => {
    if (typeof message !== 'object' || message === null || typeof message.probe !== 'string') return
    let reply: ProbeAnswer
    try {
      reply = { probe: message.probe, id: message.id, value: answer(message.probe) }
    } catch (err) {
      reply = { probe: message.probe, id: message.id, error: (err as Error).message }
    }
    process.send?.(reply)
  })
  // The IPC channel must not keep the process alive: shutdown behaviour is part of what is tested.
  process.channel?.unref()
}
