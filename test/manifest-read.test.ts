/**
 * The site's manifest reader: parsed once per build (pages share it), read again when the file changes, frozen so
 * no page can change what the others render, and the same errors as readManifest for a missing file.
 */
import { mkdtempSync, writeFileSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readManifest, siteManifest } from '../src/manifest/read.ts';

const manifest = (line: string) => `${JSON.stringify({ version: 1, engine: { backend: 'wasm', line }, methods: [], models: [] })}\n`;

describe('siteManifest', () => {
  it('parses once, re-reads a changed file, and freezes what it shares', () => {
    const dir = mkdtempSync(join(tmpdir(), 'convlens-manifest-'));
    const path = join(dir, 'manifest.json');
    writeFileSync(path, manifest('first'));
    const a = siteManifest(path);
    expect(a.engine.line).toBe('first');
    expect(siteManifest(path)).toBe(a); // the same object: not parsed again
    expect(readManifest(path)).not.toBe(a); // the CLI's reader still parses every time
    expect(Object.isFrozen(a) && Object.isFrozen(a.engine) && Object.isFrozen(a.models)).toBe(true);
    expect(() => {
      (a.models as unknown[]).push({});
    }).toThrow(TypeError);
    writeFileSync(path, manifest('second, a longer line'));
    const later = new Date(Date.now() + 5000);
    utimesSync(path, later, later);
    expect(siteManifest(path).engine.line).toBe('second, a longer line');
  });

  it('says what to run when the manifest is missing', () => {
    expect(() => siteManifest(join(tmpdir(), 'no-such-dir-convlens', 'manifest.json'))).toThrow(/run `npm run report` first/);
  });
});
