// The report site: Starlight over the top-level content/ folder plus pages generated from the manifest.
import { existsSync, readFileSync } from 'node:fs';
import mdx from '@astrojs/mdx';
import starlight from '@astrojs/starlight';
import { defineConfig } from 'astro/config';

const manifestPath = './content/generated/manifest.json';
const manifest = existsSync(manifestPath) ? JSON.parse(readFileSync(manifestPath, 'utf8')) : { models: [], methods: [] };
const models = manifest.models ?? [];
const methods = manifest.methods ?? [];

export default defineConfig({
  // scripts/report.ts builds into a temporary folder and swaps it into place (atomic output).
  outDir: process.env.CONVLENS_OUT_DIR ?? './dist',
  site: process.env.CONVLENS_SITE_URL ?? 'https://example.invalid',
  trailingSlash: 'always',
  integrations: [
    starlight({
      title: 'convlens report',
      description: 'What a convolutional image classifier learned, computed at build time with TensorFlow.js.',
      sidebar: [
        { label: 'Overview', link: '/' },
        {
          label: 'Models',
          items: models.map((m) => ({ label: m.title, link: `/models/${m.slug}/` })),
        },
        { label: 'Methods', items: methods.map((m) => ({ label: m.title, link: `/methods/${m.id}/` })) },
        { label: 'Guides', autogenerate: { directory: 'guides' } },
      ],
    }),
    mdx(),
  ],
});
