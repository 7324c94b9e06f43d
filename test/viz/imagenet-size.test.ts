/**
 * ImageNet-size models through the whole visualize step — every method with faithfulness, every layer's
 * activations, filters, activation maximization, the randomization check and class images — within the memory
 * plan: MobileNetV2 1.0 at 224x224 (2 photos) and VGG16 at 224x224 with its 138 M-parameter top (1 photo, the
 * one that ran out of heap before XNNPACK's packed weights were counted). No tensor leaks, peak RSS < 6 GiB.
 * Slow by nature (~4 and ~10 minutes on 2 cores).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/data/dataset.ts';
import { mobileNetV2 } from '../../src/models/mobilenet-v2.ts';
import { vgg } from '../../src/models/vgg.ts';
import { visualize } from '../../src/pipeline/visualize.ts';
import { batchLimits, measureCost, memoryBudget } from '../../src/viz/budget.ts';
import { ATTRIBUTION_METHODS } from '../../src/viz/registry.ts';
import { useBackend } from '../helpers/backends.ts';

beforeAll(async () => {
  await useBackend('wasm');
});

/** `count` 224x224 photos: a coloured square on a grey gradient, in [-1, 1] or caffe units. */
function photos(count: number, classes: number, caffe = false): Dataset {
  const [H, W, C] = [224, 224, 3];
  const images = new Uint8Array(count * H * W * C);
  for (let i = 0; i < count; i++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const inside = y >= 60 + 20 * i && y < 140 + 20 * i && x >= 50 && x < 130;
        for (let c = 0; c < C; c++) images[((i * H + y) * W + x) * C + c] = inside ? (c === i % 3 ? 220 : 30) : 80 + Math.round((x + y) / 6);
      }
    }
  }
  const mean = [103.939, 116.779, 123.68];
  return {
    name: 'photos', classes: Array.from({ length: classes }, (_, k) => `class ${k}`), ids: Array.from({ length: count }, (_, i) => `IMG_${i}.jpg`),
    images, labels: new Int32Array(count).fill(-1), count, shape: [H, W, C], numClasses: classes,
    ...(caffe ? { scale: [1, 1, 1], offset: mean.map((m) => -m), range: [-123.68, 151.061] as [number, number], bgr: true } : { scale: 1 / 127.5, offset: -1, range: [-1, 1] as [number, number] }),
  };
}

async function explainAll(model: tf.LayersModel, data: Dataset) {
  const cost = await measureCost(model);
  const memory = memoryBudget(cost);
  const limits = batchLimits(cost, memory);
  const before = tf.memory().numTensors;
  const v = await visualize({
    model, slug: model.name, data, sampleIndices: Array.from({ length: data.count }, (_, i) => i),
    publicDir: mkdtempSync(join(tmpdir(), 'convlens-224-')), seed: 2, cost, limits, memory,
  });
  expect(tf.memory().numTensors).toBe(before);
  expect(process.resourceUsage().maxRSS * 1024).toBeLessThan(6 * 2 ** 30);
  return { v, limits };
}

describe('ImageNet-size models, every view', () => {
  it('MobileNetV2 1.0 at 224x224, 2 photos', async () => {
    const model = mobileNetV2({ alpha: 1.0, seed: 3 });
    const { v, limits } = await explainAll(model, photos(2, 1000));
    expect(limits.gradient).toBeGreaterThan(1);
    for (const s of v.samples) {
      expect(s.attributions.map((a) => a.method)).toEqual(ATTRIBUTION_METHODS.map((m) => m.id));
      for (const a of s.attributions) expect(a.faithfulness!.deletion).toHaveLength(7);
    }
    // Score-CAM on 64 of out_relu's 1,280 channels, chosen by Grad-CAM weight.
    expect(v.samples[0].attributions.find((a) => a.method === 'score-cam')!.extras).toMatchObject({ channelsUsed: 64, layerChannels: 1280 });
    expect(v.layerViews).toHaveLength(model.layers.length - 1);
    expect(v.layerViews.filter((l) => l.actmax.length > 0).map((l) => l.layer)).toHaveLength(3);
    expect(v.layerViews.find((l) => l.layer === 'block_1_expand')!.grids[0].channels).toBe(64);
    expect(v.randomization!.steps).toHaveLength(3);
    expect(v.classMax.length).toBeGreaterThan(0);
    expect(v.work).toMatchObject({ heavy: true, skipped: [] });
    expect(v.work!.notes.join('\n')).toMatch(/0\.62 GFLOPs per image: a large model[\s\S]*Integrated Gradients: steps 20/);
    model.dispose();
  }, 900_000);

  it('VGG16 with its top at 224x224, 1 photo', async () => {
    const model = vgg({ depth: 16, seed: 3 });
    const { v } = await explainAll(model, photos(1, 1000, true));
    expect(v.samples[0].attributions.map((a) => a.method)).toEqual(ATTRIBUTION_METHODS.map((m) => m.id));
    expect(v.layerViews.filter((l) => l.actmax.length > 0)).toHaveLength(2);
    expect(v.randomization!.steps).toHaveLength(2);
    expect(v.classMax).toHaveLength(1);
    expect(v.work!.notes[0]).toMatch(/30\.94 GFLOPs per image: a very large model/);
    model.dispose();
  }, 1_800_000);
});
