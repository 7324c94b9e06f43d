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
import { runGraph } from '../../src/engine/graph.ts';
import { gradCam } from '../../src/viz/methods/grad-cam.ts';
import { localization } from '../../src/viz/metrics/localization.ts';
import { predictedClasses } from '../../src/viz/target.ts';
import { useBackend } from '../helpers/backends.ts';
import { ATTRIBUTION_METHODS } from '../../src/viz/registry.ts';

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
      methodParams: { 'smoothgrad-saliency': { samples: 2 }, 'integrated-gradients': { steps: 4 }, 'score-cam': { maxChannels: 4 }, rise: { masks: 40 } },
      localizationImages: 7,
    });
    for (const s of v.samples) {
      expect(s.attributions).toHaveLength(ATTRIBUTION_METHODS.length);
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
    expect(Object.keys(loc.methods)).toHaveLength(ATTRIBUTION_METHODS.length);
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

    // Every sample carries the model-blind baselines' curves, on the blurred-copy protocol.
    expect(v.work?.faithfulness).toMatchObject({ baseline: 'blur', steps: 16, blurSigma: 2 });
    for (const s of v.samples) {
      expect(s.baselines!.random.deletion).toHaveLength(17);
      expect(s.baselines!.edges.fractions).toEqual(s.attributions[0].faithfulness!.fractions);
    }

    // Dataset examples of every conv layer, every channel, over the 10 test images: the top 5 by maximum and by
    // mean and the bottom 5 by mean, against sorting each channel's activations of all 10 images.
    const conv = model.layers.find((l) => l.getClassName() === 'Conv2D')!;
    const view = v.layerViews.find((lv) => lv.layer === conv.name)!;
    const ex = view.datasetExamples!;
    const K = (conv.outputShape as number[])[3];
    expect(ex).toMatchObject({ images: 10, k: 5 });
    expect(ex.channels).toHaveLength(K);
    const { x: all, y: ally } = makeBatch(data, Array.from({ length: 10 }, (_, i) => i), data.scale, data.offset);
    ally.dispose();
    const act = runGraph(model, all, { capture: [conv.name] }).captured[conv.name] as tf.Tensor4D;
    const [, h, w] = act.shape;
    const values = act.arraySync();
    for (const c of [0, K - 1]) {
      const per = values.map((img, i) => {
        const vals = img.flatMap((row) => row.map((px) => px[c]));
        return { id: data.ids[i], max: Math.max(...vals), mean: vals.reduce((t, val) => t + val, 0) / (h * w) };
      });
      const byMax = [...per].sort((a, b) => b.max - a.max).slice(0, 5);
      const byMean = [...per].sort((a, b) => b.mean - a.mean).slice(0, 5);
      const least = [...per].sort((a, b) => a.mean - b.mean).slice(0, 5);
      const ch = ex.channels[c];
      expect(ch.max.map((e) => e.id)).toEqual(byMax.map((e) => e.id));
      expect(ch.max.map((e) => e.value)).toEqual(byMax.map((e) => Math.fround(e.max)));
      expect(ch.mean.map((e) => e.id)).toEqual(byMean.map((e) => e.id));
      expect(ch.least.map((e) => e.id)).toEqual(least.map((e) => e.id));
      for (const e of ch.max) expect(e.box![2] - e.box![0]).toBeGreaterThan(0);
      expect(ch.image.src).toBe(`/generated/shapes-test/layers/${conv.name.replace(/_/g, '-')}/examples-${c}.jpg`);
    }
    tf.dispose([all, act]);
    model.dispose();
  });
});
