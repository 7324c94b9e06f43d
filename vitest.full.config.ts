// The slow tier (test/tiers.ts), run by `npm run test:full` after `npm test`; the same settings as vitest.config.ts.
import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';
import { SLOW_TESTS } from './test/tiers.ts';

export default defineConfig({ test: { ...base.test, include: SLOW_TESTS, exclude: ['node_modules/**'] } });
