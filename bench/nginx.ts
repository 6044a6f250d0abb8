// Target (c): nginx as the reference reverse proxy — 1 worker, keepalive to the upstream,
// proxy_buffering off (as an SSE-capable MCP proxy must be). The config lives in a temp prefix
// and nginx runs as a child process in the foreground (`-p <dir> -g 'daemon off;'`).
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { freePort, pinned, stopChild } from './procs.ts'

export function nginxConfig (port: number, upstreamPort: number): string {
  return `worker_processes 1;
error_log logs/error.log warn;
pid logs/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path tmp/body;
  proxy_temp_path tmp/proxy;
  fastcgi_temp_path tmp/fastcgi;
  uwsgi_temp_path tmp/uwsgi;
  scgi_temp_path tmp/scgi;
  upstream mcp {
    server 127.0.0.1:${upstreamPort};
    keepalive 128;
  }
  server {
    listen 127.0.0.1:${port} reuseport;
    keepalive_requests 1000000;
    location /mcp-connect/bench {
      proxy_pass http://mcp/mcp;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 300s;
    }
  }
}
`
}

export interface NginxTarget {
  port: number
  pids: () => number[]
  proc: ChildProcess
  stop(): Promise<void>
}

function waitForPort (port: number, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = connect(port, '127.0.0.1')
      s.once('connect', () => { s.destroy(); resolve() })
      s.once('error', () => {
        s.destroy()
        if (Date.now() > until) reject(new Error(`nginx did not listen on ${port} within ${deadlineMs} ms`))
        else setTimeout(attempt, 50)
      })
    }
    attempt()
  })
}

export async function startNginx (dir: string, upstreamPort: number, cpu: number | undefined): Promise<NginxTarget> {
  const prefix = join(dir, 'nginx')
  for (const d of ['logs', 'tmp', 'conf']) mkdirSync(join(prefix, d), { recursive: true })
  const port = await freePort()
  writeFileSync(join(prefix, 'conf', 'nginx.conf'), nginxConfig(port, upstreamPort))
  const fd = openSync(join(prefix, 'logs', 'stdout.log'), 'a')
  const [cmd, args] = pinned(cpu, 'nginx', ['-p', prefix + '/', '-c', 'conf/nginx.conf', '-g', 'daemon off;'])
  const proc = spawn(cmd, args, { stdio: ['ignore', fd, fd] })
  closeSync(fd)
  const exited = new Promise<never>((_resolve, reject) => {
    proc.once('exit', code => reject(new Error(`nginx exited with code ${code} (see ${prefix}/logs/error.log)`)))
  })
  await Promise.race([waitForPort(port, 10_000), exited])
  exited.catch(() => {})
  const pids = () => {
    // The master and its one worker: children of the master found through /proc.
    const out = [proc.pid as number]
    try {
      out.push(...childPids(proc.pid as number))
    } catch {}
    return out
  }
  return { port, pids, proc, stop: () => stopChild(proc) }
}

function childPids (pid: number): number[] {
  const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim()
  return text === '' ? [] : text.split(/\s+/).map(Number)
}
