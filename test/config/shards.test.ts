/** Sharding: k/n parsing, a balanced deterministic assignment that covers every model once, and merging. */
import { describe, expect, it } from 'vitest';
import { mergeManifests } from '../../src/pipeline/merge.ts';
import { assignShards, parseShard, selectEntries, type SpecEntry } from '../../src/pipeline/shards.ts';
import type { Manifest } from '../../src/manifest/schema.ts';

const entry = (slug: string, cost: number, inDefault = true): SpecEntry => ({ slug, cost, inDefault, make: () => { throw new Error('not made'); } });

describe('shards', () => {
  it('parses k/n and rejects the rest', () => {
    expect(parseShard('2/3')).toEqual({ index: 2, count: 3 });
    expect(() => parseShard('0/3')).toThrow('k must be between 1 and n');
    expect(() => parseShard('4/3')).toThrow('k must be between 1 and n');
    expect(() => parseShard('1-3')).toThrow(`--shard: expected k/n such as 1/2, found '1-3'`);
  });

  it('balances by cost, largest first (hand-worked: 100 | 60+30+20 | …)', () => {
    const entries = [entry('a', 30), entry('b', 100), entry('c', 60), entry('d', 20)];
    // b(100)→1; c(60)→2; a(30)→2 (60<100); d(20)→1? loads 100 vs 90 → 2.
    expect(Object.fromEntries(assignShards(entries, 2))).toEqual({ b: 1, c: 2, a: 2, d: 2 });
    expect(Object.fromEntries(assignShards(entries, 3))).toEqual({ b: 1, c: 2, a: 3, d: 3 });
  });

  it('a loaded model (split by sample) is in every shard as its part, with its own cache recipe; whole models are not', async () => {
    const loaded: SpecEntry = { slug: 'mine', cost: 30, inDefault: true, splitBySample: true, recipe: () => ({ file: 'x' }), make: () => ({ slug: 'mine' }) as never };
    const entries = [entry('a', 10), loaded, entry('b', 10)];
    const parts = [1, 2, 3].map((k) => selectEntries(entries, { shard: { index: k, count: 3 } }));
    expect(parts.map((p) => p.map((e) => e.slug))).toEqual([['a', 'mine'], ['mine', 'b'], ['mine']]);
    expect(parts.map((p) => p.find((e) => e.slug === 'mine')!.part)).toEqual([{ index: 1, count: 3 }, { index: 2, count: 3 }, { index: 3, count: 3 }]);
    expect((await parts[1].find((e) => e.slug === 'mine')!.make()) as unknown).toEqual({ slug: 'mine', part: { index: 2, count: 3 } });
    expect(parts[2][0].recipe!()).toEqual({ whole: { file: 'x' }, part: { index: 3, count: 3 } });
    expect(selectEntries([loaded], { shard: { index: 1, count: 1 } })[0].part).toBeUndefined();
  });

  it('every model lands in exactly one shard, in the original order, for any n', () => {
    const entries = Array.from({ length: 7 }, (_, i) => entry(`m${i}`, (i * 37) % 11 + 1));
    for (let n = 1; n <= 9; n++) {
      const parts = Array.from({ length: n }, (_, k) => selectEntries(entries, { shard: { index: k + 1, count: n } }).map((e) => e.slug));
      expect(parts.flat().sort()).toEqual(entries.map((e) => e.slug).sort());
      for (const p of parts) expect(p).toEqual([...p].sort((x, y) => Number(x.slice(1)) - Number(y.slice(1))));
    }
  });

  it('--only picks models (also opt-in ones) and names unknown ones', () => {
    const entries = [entry('a', 1), entry('big', 9, false)];
    expect(selectEntries(entries, {}).map((e) => e.slug)).toEqual(['a']);
    expect(selectEntries(entries, { only: ['big'] }).map((e) => e.slug)).toEqual(['big']);
    expect(() => selectEntries(entries, { only: ['bigg'] })).toThrow('--only bigg: no such model (models: a, big)');
  });
});

describe('merge', () => {
  const model = (slug: string) => ({ slug }) as unknown as Manifest['models'][number];
  const manifest = (slugs: string[], backend = 'wasm'): Manifest => ({
    version: 1, engine: { backend, line: `engine: ${backend}` }, methods: [{ id: 'grad-cam', title: 'Grad-CAM', family: 'cam', signed: false, reference: 'r' }], models: slugs.map(model),
  });

  it('joins models in the report order, keeps the engines', () => {
    const m = mergeManifests([manifest(['c']), manifest(['a', 'b'], 'node')], ['a', 'b', 'c']);
    expect(m.models.map((x) => x.slug)).toEqual(['a', 'b', 'c']);
    expect(m.engine.backend).toBe('wasm,node');
  });

  it('refuses a model computed by two shards and shards with other methods', () => {
    expect(() => mergeManifests([manifest(['a']), manifest(['a'])])).toThrow(`merge: model 'a' is in shard 1 and shard 2`);
    const other = { ...manifest(['b']), methods: [] };
    expect(() => mergeManifests([manifest(['a']), other])).toThrow('shard 2 ran other attribution methods');
  });
});
