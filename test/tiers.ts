/**
 * The slow tier: end-to-end tests that build whole reports or 224-pixel models (minutes each). `npm test` leaves them
 * out; `npm run test:full` (and `.ci/run`) runs them after it (vitest.full.config.ts).
 */
export const SLOW_TESTS = [
  'test/report.test.ts', // the default report cold, twice (byte-identical), warm, and a failing run
  'test/viz/imagenet-size.test.ts', // MobileNetV2 1.0 and VGG16 at 224 through every view
  'test/e2e/site.test.ts', // the built site in Chromium, Lighthouse
  'test/e2e/package.test.ts', // the packed package in a fresh project: init, report, the site at the root and a sub-path
  'test/report-split.test.ts', // one model over --jobs 1/2 and CI shards + merge
  'test/models/pretrained.test.ts', // ImageNet-style weights and transfer learning against a local server
];
