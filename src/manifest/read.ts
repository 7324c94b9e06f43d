/** Read and validate the manifest (used by the site at build time; no tfjs here). */
import { readFileSync } from 'node:fs';
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
