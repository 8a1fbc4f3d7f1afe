import { defineConfig } from 'vite';

/** React's automatic JSX runtime through Vite's own transformer (no plugin needed for a production build). */
export default defineConfig({
  build: { outDir: 'dist', emptyOutDir: true, assetsDir: 'assets', sourcemap: false },
  oxc: { jsx: { runtime: 'automatic' } },
  server: { proxy: { '/v1': 'http://localhost:3000', '/files': 'http://localhost:3000' } },
});
