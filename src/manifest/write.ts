/** Write the manifest atomically (temp file + rename) after validating it. */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Manifest } from './schema.ts';

export function writeManifest(manifest: Manifest, path: string): void {
  const parsed = Manifest.safeParse(manifest);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`internal error: the manifest is invalid at ${issue.path.join('.')}: ${issue.message}`);
  }
  const valid = parsed.data;
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(valid, null, 2)}\n`);
  renameSync(tmp, path);
}
