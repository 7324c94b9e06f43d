/** Read and validate the manifest (used by the site at build time; no tfjs here). */
import { readFileSync, statSync } from 'node:fs';
import { Manifest } from './schema.ts';

/** Where the pipeline writes the manifest and the site reads it; CONVLENS_MANIFEST moves it (tests use a temp dir). */
export const MANIFEST_PATH = process.env.CONVLENS_MANIFEST ?? 'content/generated/manifest.json';

export function readManifest(path = MANIFEST_PATH): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: cannot read the report manifest (${(err as Error).message}); run \`npm run report\` first`);
  }
  const parsed = Manifest.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${path}: invalid manifest at ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}

/** Freeze every object of `value` (the site's shared manifest: a page that changed it would change the others). */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

const shared = new Map<string, { stamp: string; manifest: Manifest }>();

/**
 * readManifest for the site's pages and components: parsed and validated once per build (a default report's
 * manifest is ~24 MB, ~0.6 s to parse and check, and each method page's components read it), read again when the
 * file changes, and frozen, since every page shares it.
 */
export function siteManifest(path = MANIFEST_PATH): Manifest {
  let stamp = '';
  try {
    const st = statSync(path);
    stamp = `${st.mtimeMs}:${st.size}`;
  } catch {
    return readManifest(path); // says what is missing
  }
  const hit = shared.get(path);
  if (hit?.stamp === stamp) return hit.manifest;
  const manifest = deepFreeze(readManifest(path));
  shared.set(path, { stamp, manifest });
  return manifest;
}
