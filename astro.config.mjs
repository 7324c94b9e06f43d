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
// `report --compare`: each compared model's What changed page joins its sidebar group.
const changesPath = process.env.CONVLENS_CHANGES ?? './content/generated/changes.json';
const changes = existsSync(changesPath) ? JSON.parse(readFileSync(changesPath, 'utf8')) : undefined;
const compared = new Set(changes?.status === 'compared' ? changes.models.filter((c) => c.status !== 'removed').map((c) => c.id) : []);
// The site's sub-path (`convlens report --base /repo/`; a GitHub project Pages site lives at /<repo>/).
const base = process.env.CONVLENS_BASE || '/';

/**
 * Authored MDX links to other pages absolutely ('/guides/colour-contract/'); under a sub-path they must carry
 * it. Astro's `base` does not rewrite links written in content, so this rehype step does.
 */
function rehypeBaseLinks() {
  const prefix = base.replace(/\/+$/, '');
  const visit = (node) => {
    if (node.type === 'element') {
      for (const attr of ['href', 'src']) {
        const v = node.properties?.[attr];
        if (prefix && typeof v === 'string' && v.startsWith('/') && !v.startsWith('//') && !v.startsWith(`${prefix}/`)) node.properties[attr] = prefix + v;
      }
    }
    for (const child of node.children ?? []) visit(child);
  };
  return (tree) => visit(tree);
}

export default defineConfig({
  // scripts/report.ts builds into a temporary folder and swaps it into place (atomic output).
  outDir: process.env.CONVLENS_OUT_DIR ?? './dist',
  publicDir: process.env.CONVLENS_PUBLIC_DIR ?? './public',
  site: process.env.CONVLENS_SITE_URL || 'https://example.invalid',
  base,
  // Installed in a user's repository, the site's root (where Astro and Vite keep their caches and generated
  // types) is the user's .convlens/ folder and the pages come from the package's src/, which is only read.
  ...(process.env.CONVLENS_SRC_DIR ? { srcDir: process.env.CONVLENS_SRC_DIR, cacheDir: './.astro-cache' } : {}),
  trailingSlash: 'always',
  markdown: { rehypePlugins: [rehypeBaseLinks] },
  // Vite's cache under the site's root too (not in a node_modules the root may link to).
  vite: process.env.CONVLENS_SRC_DIR ? { cacheDir: './.vite-cache' } : {},
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
              ...(compared.has(m.slug) ? [{ label: 'What changed', link: `/models/${m.slug}/changes/` }] : []),
              // Deep models (MobileNetV2: 163 layers) link their summary table instead of listing every layer:
              // the sidebar is in every page's HTML, and 163 entries would double the size of every page.
              m.layers.length > MAX_SIDEBAR_LAYERS
                ? { label: `Layers (${m.layers.length})`, link: `/models/${m.slug}/#summary` }
                : { label: 'Layers', collapsed: true, items: m.layers.map((l) => ({ label: l.name, link: `/models/${m.slug}/layers/${l.slug}/` })) },
              ...(m.samples.some((s) => s.predicted >= 0)
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
