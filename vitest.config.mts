import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The native addon is loaded in child processes (not worker threads) so a crash fails one file, not the run.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
