import { defineConfig } from 'vitest/config';

// Two projects: fast unit tests in happy-dom (plus node-only tests, the collector's and the
// structure check of src/, that opt in with a `@vitest-environment node` comment), and browser tests that drive real Chromium
// through Playwright against the built bundle. `npm test` runs the e2e project with one
// file at a time: rate-limit timings mean nothing on 2 cores shared by several browsers.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          environment: 'happy-dom',
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['e2e/**/*.test.ts'],
          environment: 'node',
          testTimeout: 180_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
