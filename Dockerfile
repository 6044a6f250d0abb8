# mcpgate image: the build stage compiles native addons (better-sqlite3, argon2 prebuilt), the
# TypeScript sources and the web console; the runtime stage is Node 22 LTS slim, production
# dependencies only, non-root.
#
# `docker run -p 8080:8080 <image>` alone runs the demo (gateway, admin API and demo MCP server) on
# the embedded SQLite store in the /app/data volume: config/docker.yaml, no Redis needed.
# docker-compose.yml runs the gateway and the admin API separately on Redis (config/compose.yaml).
# test/deploy/dockerfile.test.ts lints this file and runs its ENTRYPOINT + CMD as a plain process.
FROM node:22-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:22-bookworm-slim AS runtime
# MCPGATE_CONFIG: the config every mcpgate command in the container uses without --config, so that
# `docker exec <container> mcpgate keys list` reads the store the service runs on.
ENV NODE_ENV=production \
    MCPGATE_CONFIG=/app/config/docker.yaml
WORKDIR /app
COPY --from=build --chown=node:node /app /app
RUN mkdir -p /app/data && chown node:node /app/data && ln -s /app/bin/mcpgate.js /usr/local/bin/mcpgate
USER node
EXPOSE 8080 8081
VOLUME ["/app/data"]
# Liveness of the gateway (the default command serves it); the port follows MCPGATE_GATEWAY_PORT.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.MCPGATE_GATEWAY_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM drains (gateway.shutdownGraceMs, then up to 5 s for the last writes): give `docker stop`
# a --time (or compose a stop_grace_period) above that, or the drain is cut by SIGKILL.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "bin/mcpgate.js"]
CMD ["start", "--demo"]
