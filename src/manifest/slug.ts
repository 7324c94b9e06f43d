/**
 * URL slugs from arbitrary names (model, layer, class or file names are untrusted): lowercase ASCII letters,
 * digits and single hyphens, at most 60 characters; empty results and collisions get a short hash suffix.
 * A layer named `../x` or `<img onerror=…>` becomes a harmless path segment.
 */
import { createHash } from 'node:crypto';

export function slugify(name: string): string {
  const base = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60)
    .replace(/-+$/g, '');
  return base || `n-${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
}

/** Slugs for a list of names, unique within the list (later duplicates get a hash suffix). */
export function uniqueSlugs(names: string[]): string[] {
  const used = new Set<string>();
  return names.map((name) => {
    let slug = slugify(name);
    if (used.has(slug)) slug = `${slug}-${createHash('sha256').update(name).digest('hex').slice(0, 6)}`;
    let n = 2;
    while (used.has(slug)) slug = `${slugify(name)}-${n++}`;
    used.add(slug);
    return slug;
  });
}
