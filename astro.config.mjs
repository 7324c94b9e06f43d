// The report site: Starlight over the top-level content/ folder plus pages generated from the manifest.
import { existsSync, readFileSync } from 'node:fs';
import mdx from '@astrojs/mdx';
import starlight from '@astrojs/starlight';
import { defineConfig } from 'astro/config';

// CONVLENS_MANIFEST / CONVLENS_PUBLIC_DIR let a run keep its generated files outside the working tree.
const manifestPath = process.env.CONVLENS_MANIFEST ?? './content/generated/manifest.json';
const manifest = existsSync(manifestPath) ? JSON.parse(readFileSync(manifestPath, 'utf8')) : { models: [], methods: [] };
const models = manifest.models ?? [];
const methods = manifest.methods ?? [];
const MAX_SIDEBAR_LAYERS = 40;

export default defineConfig({
  // scripts/report.ts builds into a temporary folder and swaps it into place (atomic output).
  outDir: process.env.CONVLENS_OUT_DIR ?? './dist',
  publicDir: process.env.CONVLENS_PUBLIC_DIR ?? './public',
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
          // One group per model: its page, its layers, its explained samples.
          items: models.map((m) => ({
            label: m.title,
            collapsed: true,
            items: [
              { label: 'Overview', link: `/models/${m.slug}/` },
              // Deep models (MobileNetV2: 163 layers) link their summary table instead of listing every layer:
              // the sidebar is in every page's HTML, and 163 entries would double the size of every page.
              m.layers.length > MAX_SIDEBAR_LAYERS
                ? { label: `Layers (${m.layers.length})`, link: `/models/${m.slug}/#summary` }
                : { label: 'Layers', collapsed: true, items: m.layers.map((l) => ({ label: l.name, link: `/models/${m.slug}/layers/${l.slug}/` })) },
              ...(m.evaluation && m.samples.length
                ? [{ label: 'Samples', collapsed: true, items: m.samples.map((s) => ({ label: s.id, link: `/models/${m.slug}/samples/${s.slug}/` })) }]
                : []),
            ],
          })),
        },
        { label: 'Methods', items: [{ label: 'Which to trust', link: '/methods/' }, ...methods.map((m) => ({ label: m.title, link: `/methods/${m.id}/` }))] },
        { label: 'Guides', autogenerate: { directory: 'guides' } },
      ],
    }),
    mdx(),
  ],
});
