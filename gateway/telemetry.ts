// OpenTelemetry tracing, off unless `telemetry.otlp.endpoint` is set (then nothing of it runs per
// request). One server span per request under /mcp-connect — named and attributed with the MCP
// semantic conventions (mcp.method.name, gen_ai.tool.name, mcp.session.id…) from the request's
// record — with the client's `traceparent` as its parent; the upstream call is its child span, and
// that child's context goes upstream as `traceparent`, so the MCP server's spans join the trace.
// Spans are exported over OTLP/HTTP in batches, off the request path.
import type { IncomingHttpHeaders } from 'node:http'
import { createHash } from 'node:crypto'
import { defaultTextMapGetter, defaultTextMapSetter, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Span, type Tracer } from '@opentelemetry/api'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, TracerProvider } from '@opentelemetry/sdk-trace'
import type { FastifyInstance } from 'fastify'
import type { Config } from '../config/schema.ts'
import type { RequestEnd } from './access-log.ts'
import type { UpstreamExchange } from './upstream-exchange.ts'
import type { ExchangeObserver } from './upstream.ts'

const propagator = new W3CTraceContextPropagator()

/** What a request's span is named after, and its target attribute, per MCP method. */
function targetAttribute (method: string): string | null {
  if (method === 'tools/call') return 'gen_ai.tool.name'
  if (method === 'prompts/get') return 'gen_ai.prompt.name'
  if (method.startsWith('resources/')) return 'mcp.resource.uri'
  return null
}

export class Telemetry implements ExchangeObserver {
  readonly #provider: TracerProvider
  readonly #tracer: Tracer
  /** The request's span, by request (the record is the request's; spans are telemetry's). */
  readonly #spans = new WeakMap<object, Span>()
  readonly #upstreamSpans = new WeakMap<UpstreamExchange, Span>()

  constructor (config: Readonly<Config['telemetry']>, version: string) {
    const otlp = config.otlp
    const exporter = new OTLPTraceExporter({ url: otlp.endpoint, headers: { ...otlp.headers } })
    this.#provider = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': config.serviceName, 'service.version': version }),
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.sampleRatio) }),
      spanProcessors: [new BatchSpanProcessor({ exporter, scheduledDelayMillis: config.flushMs })]
    })
    this.#tracer = this.#provider.getTracer('mcpgate', version)
  }

  /** Starts each MCP request's span (registered after the record is made, only when tracing is on). */
  register (app: FastifyInstance): void {
    app.addHook('onRequest', (request, _reply, done) => {
      if (request.url.startsWith('/mcp-connect/')) {
        const parent = propagator.extract(ROOT_CONTEXT, request.headers, defaultTextMapGetter)
        const span = this.#tracer.startSpan(`${request.method} /mcp-connect`, {
          kind: SpanKind.SERVER,
          attributes: { 'http.request.method': request.method, 'url.path': request.url.split('?', 1)[0] ?? '', 'network.protocol.name': 'http' }
        }, parent)
        this.#spans.set(request, span)
      }
      done()
    })
  }

  /** The request ended: its span gets what the record knows, and ends. */
  ended (end: RequestEnd): void {
    const span = this.#spans.get(end.request)
    if (span === undefined) return
    const { gate } = end
    const call = gate.calls?.[0]
    const attributes: Attributes = { 'http.response.status_code': end.status }
    if (gate.server !== null || gate.routeServerId !== null) attributes['mcpgate.server.id'] = gate.server?.id ?? gate.routeServerId ?? ''
    if (gate.principal !== null) {
      attributes['mcpgate.key.id'] = gate.principal.keyId
      attributes['enduser.id'] = gate.principal.userId
    }
    if (gate.code !== null) attributes['error.type'] = gate.code
    const version = end.request.headers['mcp-protocol-version']
    if (typeof version === 'string') attributes['mcp.protocol.version'] = version
    if (gate.sessionId !== null) attributes['mcp.session.id'] = createHash('sha256').update(gate.sessionId).digest('hex').slice(0, 16)
    let name = `${end.method} /mcp-connect`
    if (call !== undefined) {
      attributes['mcp.method.name'] = call.method
      const target = targetAttribute(call.method)
      if (target !== null && call.name !== undefined) attributes[target] = call.name
      name = call.name === undefined ? call.method : `${call.method} ${call.name}`
      if ((gate.calls?.length ?? 0) > 1) attributes['mcp.batch.size'] = gate.calls?.length ?? 0
    }
    span.updateName(name)
    span.setAttributes(attributes)
    if (end.status >= 500 || gate.code !== null) span.setStatus({ code: SpanStatusCode.ERROR, message: gate.code ?? `HTTP ${end.status}` })
    span.end()
  }

  /** The upstream call: a child span, its context sent upstream in `traceparent`. */
  upstreamHeaders (exchange: UpstreamExchange, headers: IncomingHttpHeaders): void {
    const parent = this.#spans.get(exchange.request)
    const ctx = parent === undefined ? ROOT_CONTEXT : trace.setSpan(ROOT_CONTEXT, parent)
    const span = this.#tracer.startSpan(`${exchange.request.method} ${exchange.server.id}`, {
      kind: SpanKind.CLIENT,
      attributes: { 'mcpgate.server.id': exchange.server.id, 'server.address': exchange.server.url.hostname, 'http.request.method': exchange.request.method }
    }, ctx)
    this.#upstreamSpans.set(exchange, span)
    // The client's own trace context was its, to the gateway: upstream, the gateway's call is the parent.
    delete headers.traceparent
    delete headers.tracestate
    propagator.inject(trace.setSpan(ROOT_CONTEXT, span), headers, defaultTextMapSetter)
  }

  closed (exchange: UpstreamExchange): void {
    const span = this.#upstreamSpans.get(exchange)
    if (span === undefined) return
    const status = exchange.request.gate.upstreamStatus
    if (status !== 0) span.setAttribute('http.response.status_code', status)
    if (status === 0 || status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: status === 0 ? 'no answer' : `HTTP ${status}` })
    span.end()
  }

  flush (): Promise<void> {
    return this.#provider.forceFlush()
  }

  shutdown (): Promise<void> {
    return this.#provider.shutdown()
  }
}
