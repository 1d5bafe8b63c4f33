// The UI is served by cairn under /ui/ (index also at /); everything it
// loads comes from cairn itself (no CDN), so the Content-Security-Policy
// can be 'self' only.
import { defineConfig } from 'vite'

export default defineConfig({
  base: '/ui/',
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    // No inline scripts or styles: the CSP forbids them.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
})
