// Starlight's docs collection served from the top-level content/ folder (authored MDX).
import { defineCollection } from 'astro:content';
import { glob } from 'astro/loaders';
import { docsSchema } from '@astrojs/starlight/schema';

export const collections = {
  docs: defineCollection({
    // The package's content/, wherever the site's root is (a user's .convlens/ when convlens is installed).
    loader: glob({ base: new URL('../content/', import.meta.url), pattern: '**/[^_]*.{md,mdx}' }),
    schema: docsSchema(),
  }),
};
