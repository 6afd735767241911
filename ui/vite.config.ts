/// <reference types="vitest/config" />
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// The dev server proxies the API to a sync server (EXPENSO_API, default 127.0.0.1:8080), so
// `npm run dev` works against a real server as the built app does when the server serves it.
export default defineConfig({
  plugins: [vue()],
  server: {
    proxy: { '/api': { target: process.env.EXPENSO_API ?? 'http://127.0.0.1:8080', ws: true } },
  },
  build: {
    target: 'es2022',
    sourcemap: false,
    // dist/.vite/manifest.json: which files a page loads (the bundle benchmark reads it).
    manifest: true,
    chunkSizeWarningLimit: 400,
  },
  test: {
    environment: 'happy-dom',
    include: ['tests/**/*.test.ts'],
  },
})
