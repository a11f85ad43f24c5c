import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The app must run under the server's strict CSP (no inline scripts or styles, no eval):
// Vite emits external module scripts and CSS files; Svelte's scoped styles go into the CSS file.
export default defineConfig({
  plugins: [svelte({ compilerOptions: { css: 'external' } })],
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    sourcemap: false,
    modulePreload: { polyfill: false },
    cssCodeSplit: true,
    target: 'es2022',
  },
  server: {
    // `npm run dev`: the API on the local rampart (make run).
    proxy: {
      '/v1': 'http://127.0.0.1:8080',
      '/event': { target: 'ws://127.0.0.1:8080', ws: true },
      '/api': { target: 'ws://127.0.0.1:8080', ws: true },
      '/oauth2': 'http://127.0.0.1:8080',
      '/.well-known': 'http://127.0.0.1:8080',
    },
  },
  // Tests only (unset for `vite build`): Svelte's browser entry points, so components can be mounted in jsdom.
  resolve: process.env.VITEST ? { conditions: ['browser'] } : undefined,
  test: {
    environment: 'jsdom',
    include: ['tests/unit/**/*.test.ts'],
  },
});
