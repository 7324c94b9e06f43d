/** The visualize step on a classifier over the shapes data: masks give pointing-game and energy numbers. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeBatch } from '../../src/data/batches.ts';
import { generateShapes } from '../../src/data/shapes.ts';
import { tinyVgg } from '../../src/models/tiny-vgg.ts';
import { visualize } from '../../src/pipeline/visualize.ts';
import { gradCam } from '../../src/viz/methods/grad-cam.ts';
import { localization } from '../../src/viz/metrics/localization.ts';
import { predictedClasses } from '../../src/viz/target.ts';
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
      localizationImages: 7,
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
    // The benchmark over the first 7 test images (chunks of 25 → one call) against a one-image-at-a-time loop.
    const loc = v.localization!;
    expect(loc).toMatchObject({ images: 7, tolerance: 1 });
    expect(Object.keys(loc.methods)).toHaveLength(10);
    let hits = 0;
    let energy = 0;
    let area = 0;
    for (let i = 0; i < 7; i++) {
      const { x, y } = makeBatch(data, [i], data.scale, data.offset);
      y.dispose();
      const target = predictedClasses(model, x);
      const r = gradCam.attribute({ model, x, targets: target, seed: 1 }, {} as never);
      const l = localization(r.maps.dataSync(), data.masks.subarray(i * 1024, (i + 1) * 1024), 32, 1);
      hits += +l.hit;
      energy += l.energyInside;
      for (let k = i * 1024; k < (i + 1) * 1024; k++) area += data.masks[k];
      tf.dispose([x, r.maps, r.lowRes!]);
    }
    expect(loc.methods['grad-cam'].pointing).toBeCloseTo(hits / 7, 12);
    expect(loc.methods['grad-cam'].energy).toBeCloseTo(energy / 7, 5);
    expect(loc.objectArea).toBeCloseTo(area / (7 * 1024), 12);
    model.dispose();
  });
});
