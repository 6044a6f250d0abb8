// Vite build of the web console: `vite build console` writes console/dist, which the admin API
// serves (admin-api/console.ts). No CDN, no inline scripts: everything is bundled from this folder.
import { defineConfig } from 'vite'

export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  publicDir: 'public',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Hashed file names: admin-api/console.ts serves /assets/* as immutable.
    assetsDir: 'assets',
    // Never inline assets as data: URIs; the CSP allows files from 'self' only.
    assetsInlineLimit: 0,
    sourcemap: false
  },
  server: {
    host: '127.0.0.1',
    // `npx vite console` during development: the API and config come from a running admin API
    // on its default port (config/schema.ts admin.port).
    proxy: {
      '/api': 'http://127.0.0.1:8081',
      '/console-config.json': 'http://127.0.0.1:8081'
    }
  }
})
