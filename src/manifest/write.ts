/** Write the manifest atomically (temp file + rename) after validating it. */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Manifest } from './schema.ts';

export function writeManifest(manifest: Manifest, path: string): void {
  const valid = Manifest.parse(manifest);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(valid, null, 2)}\n`);
  renameSync(tmp, path);
}
