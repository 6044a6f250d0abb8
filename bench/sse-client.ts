// Measures SSE streaming through a target: time to the first event and the gap between events
// as the client sees them (the upstream sends 100 events 1 ms apart, so ideal gaps are ~1 ms and
// a buffering proxy shows up as bursts of 0 ms gaps after long ones).
import { request } from 'node:http'

export interface StreamTiming {
  /** ms from sending the request to the first body byte. */
  ttfb: number
  /** ms between consecutive events' arrival. */
  gaps: number[]
  events: number
  /** ms from sending the request to the end of the stream. */
  total: number
}

export function sseStream (url: string, headers: Record<string, string>, expectEvents: number): Promise<StreamTiming> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now()
    let ttfb = -1
    let last = -1
    let events = 0
    let tail = ''
    const gaps: number[] = []
    const req = request(url, { method: 'GET', headers: { accept: 'text/event-stream', ...headers }, agent: false }, res => {
      if (res.statusCode !== 200) {
        res.resume()
        reject(new Error(`SSE ${url}: status ${res.statusCode}`))
        return
      }
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        const now = performance.now()
        if (ttfb < 0) ttfb = now - t0
        // Events end with a blank line; one chunk may hold several events, or a part of one.
        const text = tail + chunk
        let from = 0
        for (let i = text.indexOf('\n\n'); i >= 0; i = text.indexOf('\n\n', from)) {
          events++
          if (last >= 0) gaps.push(now - last)
          last = now
          from = i + 2
        }
        tail = text.slice(from)
      })
      res.on('end', () => {
        if (events !== expectEvents) reject(new Error(`SSE ${url}: got ${events} events, expected ${expectEvents}`))
        else resolve({ ttfb, gaps, events, total: performance.now() - t0 })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

/** `streams` concurrent streams; returns every stream's timing. */
export function sseStreams (url: string, headers: Record<string, string>, streams: number, expectEvents: number): Promise<StreamTiming[]> {
  return Promise.all(Array.from({ length: streams }, () => sseStream(url, headers, expectEvents)))
}
