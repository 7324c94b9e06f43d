// Component tests render .astro components with Astro's container API, so they need Astro's Vite plugins.
import { getViteConfig } from 'astro/config';

export default getViteConfig({
  test: {
    include: ['test/components/**/*.test.ts'],
    testTimeout: 120_000,
  },
});
