# mcpgate image: build stage compiles native addons (better-sqlite3, argon2 prebuilt) and the web
# console; the runtime stage is Node 22 LTS slim, production dependencies only, non-root.
FROM node:22-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=node:node /app /app
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 8080 8081
VOLUME ["/app/data"]
ENTRYPOINT ["node", "bin/mcpgate.js"]
CMD ["start", "--config", "/app/config/compose.yaml"]
