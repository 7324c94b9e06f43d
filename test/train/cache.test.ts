import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/data/batches.ts';
import { lenet5 } from '../../src/models/lenet5.ts';
import { cacheKey, canonicalJson, dataFingerprint, trainWithCache } from '../../src/train/cache.ts';
import { fit } from '../../src/train/fit.ts';
import { useBackend } from '../helpers/backends.ts';

function toy(n: number, seed: number) {
  const rand = mulberry32(seed);
  const images = Uint8Array.from({ length: n * 784 }, () => Math.floor(rand() * 256));
  const labels = Uint8Array.from({ length: n }, (_, i) => i % 10);
  return { images, labels, count: n, shape: [28, 28, 1] as [number, number, number], numClasses: 10 };
}

beforeAll(async () => {
  await useBackend('wasm');
});

describe('training cache', () => {
  const data = toy(64, 1);
  const parts = { model: { arch: 'lenet5' }, data: [dataFingerprint(data)], training: { epochs: 1, batchSize: 32 }, seed: 1, backend: 'wasm' };

  it('keys are canonical and change with every part', () => {
    expect(canonicalJson({ b: 1, a: [{ y: 2, x: 1 }] })).toBe('{"a":[{"x":1,"y":2}],"b":1}');
    const key = cacheKey(parts);
    expect(cacheKey({ ...parts, training: { batchSize: 32, epochs: 1 } })).toBe(key);
    expect(cacheKey({ ...parts, seed: 2 })).not.toBe(key);
    expect(cacheKey({ ...parts, backend: 'cpu' })).not.toBe(key);
    expect(cacheKey({ ...parts, training: { epochs: 2, batchSize: 32 } })).not.toBe(key);
    const changed = toy(64, 1);
    changed.images[5] ^= 1;
    expect(cacheKey({ ...parts, data: [dataFingerprint(changed)] })).not.toBe(key);
  });

  it('trains once, then loads the identical model; retrains after a change', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'convlens-cache-'));
    let trainings = 0;
    const run = (key: string) =>
      trainWithCache({
        dir, key,
        build: () => lenet5({ seed: 1 }),
        train: (m) => {
          trainings++;
          return fit(m, data, { epochs: 1, batchSize: 32, seed: 1 }).map((h) => h.loss);
        },
      });
    const first = await run(cacheKey(parts));
    const second = await run(cacheKey(parts));
    expect([first.cached, second.cached, trainings]).toEqual([false, true, 1]);
    expect(second.history).toEqual(first.history);
    const w1 = first.model.getWeights().map((w) => Array.from(w.dataSync()));
    expect(second.model.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(w1);
    const third = await run(cacheKey({ ...parts, seed: 3 }));
    expect([third.cached, trainings]).toEqual([false, 2]);
    for (const m of [first.model, second.model, third.model]) m.dispose();
  });
});
