import { defineConfig } from 'vitest/config';
import { SLOW_TESTS } from './test/tiers.ts';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // test/components runs with Astro's Vite plugins (vitest.components.config.ts); the slow tier runs in
    // `npm run test:full` (vitest.full.config.ts).
    exclude: ['node_modules/**', 'test/components/**', ...SLOW_TESTS],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // One file at a time: the end-to-end and Lighthouse checks measure the site, and must not share the
    // two cores with a training run in another worker.
    fileParallelism: false,
  },
});
