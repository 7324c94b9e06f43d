/**
 * The report cache: the same recipe (and code) gives the stored report and its assets back without calling make();
 * a changed recipe or --no-cache recomputes; entries without a recipe (loaded model files) are never cached.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateShapes } from '../../src/data/shapes.ts';
import { randomCnn } from '../../src/models/random-cnn.ts';
import type { ModelSpec } from '../../src/pipeline/model-report.ts';
import { cachedModelReport, computeCodeHash, fileStamps } from '../../src/pipeline/report-cache.ts';
import type { SpecEntry } from '../../src/pipeline/shards.ts';
import { useBackend } from '../helpers/backends.ts';

beforeAll(async () => {
  await useBackend('wasm');
});

const root = mkdtempSync(join(tmpdir(), 'convlens-report-cache-'));

function entry(seed: number, recipe: boolean, made: { n: number }): SpecEntry {
  return {
    slug: 'tiny', cost: 1, inDefault: true,
    recipe: recipe ? () => ({ seed }) : undefined,
    make: (): ModelSpec => {
      made.n++;
      return {
        slug: 'tiny', title: 'Tiny', architecture: 'random CNN', description: '', identity: { zoo: 'random-cnn' },
        build: () => randomCnn({ inputShape: [64, 64, 3], seed }), test: generateShapes({ count: 5, seed: 3, size: 64 }),
        classifier: false, seed, actmax: { maxChannels: 1, steps: 2 },
      };
    },
  };
}

describe('report cache', () => {
  it('hit on the same recipe, miss on another, never without a recipe', async () => {
    const ctx = (pub: string) => ({ backend: 'wasm', publicDir: join(root, pub), reportCacheDir: join(root, 'cache') });
    const made = { n: 0 };
    const first = await cachedModelReport(entry(1, true, made), ctx('a'));
    expect(made.n).toBe(1);
    const files = readdirSync(join(root, 'a', 'generated', 'tiny'), { recursive: true }).map(String).sort();
    expect(files.length).toBeGreaterThan(10);
    const again = await cachedModelReport(entry(1, true, made), ctx('b'));
    expect(made.n).toBe(1); // not made again
    expect(again).toEqual(first);
    expect(readdirSync(join(root, 'b', 'generated', 'tiny'), { recursive: true }).map(String).sort()).toEqual(files);
    const f = files.find((x) => x.endsWith('.webp'))!;
    expect(readFileSync(join(root, 'b', 'generated', 'tiny', f)).equals(readFileSync(join(root, 'a', 'generated', 'tiny', f)))).toBe(true);
    await cachedModelReport(entry(2, true, made), ctx('c'));
    expect(made.n).toBe(2); // another recipe
    await cachedModelReport(entry(1, true, made), { ...ctx('d'), noCache: true });
    expect(made.n).toBe(3); // --no-cache
    await cachedModelReport(entry(1, false, made), ctx('e'));
    await cachedModelReport(entry(1, false, made), ctx('e'));
    expect(made.n).toBe(5); // no recipe: computed every time
    rmSync(join(root, 'a'), { recursive: true });
    expect(existsSync(join(root, 'b', 'generated', 'tiny', f))).toBe(true); // the cache's files are not the work dir's
  }, 120_000);

  it('fingerprints the code and files without reading data', () => {
    expect(computeCodeHash()).toMatch(/^[0-9a-f]{64}$/);
    expect(computeCodeHash()).toBe(computeCodeHash());
    const stamps = fileStamps(join(root, 'b'));
    expect(stamps.length).toBeGreaterThan(10);
    expect(stamps[0]).toEqual([expect.stringMatching(/^generated\//), expect.any(Number), expect.any(Number)]);
  });
});
