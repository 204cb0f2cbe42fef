import { defineConfig } from 'vite';

// Preact through esbuild's automatic JSX runtime: no framework plugin needed.
export default defineConfig({
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 4096,
    reportCompressedSize: true,
  },
  server: {
    proxy: {
      '/api': { target: 'http://127.0.0.1:8400', ws: true },
      '/health': 'http://127.0.0.1:8400',
    },
  },
});
