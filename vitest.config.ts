import { defineConfig } from 'vitest/config';

export default defineConfig({
  plugins: [
    {
      // Shaders are imported as text, as esbuild's text loader does for the bundles.
      name: 'wgsl-text',
      transform(code, id) {
        if (id.endsWith('.wgsl')) return { code: `export default ${JSON.stringify(code)};`, map: null };
      },
    },
  ],
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup-cache.ts'],
    // Dawn is a native addon: separate processes, not worker threads.
    pool: 'forks',
    testTimeout: 300_000,
    hookTimeout: 120_000,
  },
});
