/** The visualize step on a classifier over the shapes data: masks give pointing-game and energy numbers. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateShapes } from '../../src/data/shapes.ts';
import { tinyVgg } from '../../src/models/tiny-vgg.ts';
import { visualize } from '../../src/pipeline/visualize.ts';
import { useBackend } from '../helpers/backends.ts';

beforeAll(async () => {
  await useBackend('wasm');
});

describe('visualize on shapes', () => {
  it('adds pointing-game hits and energy inside the mask to every attribution', async () => {
    const data = generateShapes({ count: 10, seed: 4, size: 32 });
    const model = tinyVgg({ inputShape: [32, 32, 3], numClasses: 5, seed: 1 });
    const v = await visualize({
      model, slug: 'shapes-test', data, sampleIndices: [0, 1], publicDir: mkdtempSync(join(tmpdir(), 'convlens-vis-')), seed: 1,
      actmax: { maxChannels: 1, steps: 2 },
      methodParams: { 'smoothgrad-saliency': { samples: 2 }, 'integrated-gradients': { steps: 4 }, 'score-cam': { maxChannels: 4 } },
    });
    for (const s of v.samples) {
      expect(s.attributions).toHaveLength(10);
      for (const a of s.attributions) {
        expect([0, 1]).toContain(a.extras.pointingHit);
        expect(a.extras.energyInside).toBeGreaterThanOrEqual(0);
        expect(a.extras.energyInside).toBeLessThanOrEqual(1);
      }
    }
    expect(v.camLayer).toBe('relu_2_2');
    model.dispose();
  });
});
