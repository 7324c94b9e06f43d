/**
 * The memory plan and work sizing: FLOPs against published counts and a hand-worked model, batch limits that
 * really keep a pass within its budget, methods whose maps do not depend on how they were batched, the split of
 * a model's samples over processes, and views skipped with a reason when not even one image fits.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateShapes } from '../../src/data/shapes.ts';
import { mobileNetV2 } from '../../src/models/mobilenet-v2.ts';
import { tinyVgg } from '../../src/models/tiny-vgg.ts';
import { vgg } from '../../src/models/vgg.ts';
import { joinParts } from '../../src/pipeline/merge.ts';
import { partPositions, visualize } from '../../src/pipeline/visualize.ts';
import { trimToBudget } from '../../src/pipeline/work.ts';
import { attributeInChunks } from '../../src/viz/attribute.ts';
import { batchLimits, measureCost, modelFlops } from '../../src/viz/budget.ts';
import { ATTRIBUTION_METHODS } from '../../src/viz/registry.ts';
import { targetScore } from '../../src/viz/target.ts';
import type { ModelReport } from '../../src/manifest/schema.ts';
import { useBackend } from '../helpers/backends.ts';

/** What a budget of 1 s cuts from the full defaults of a 24-pixel tiny VGG, least valued first (SmoothGrad is the config's). */
const CUTS = [
  'deletion/insertion curves: 16 → 8 steps',
  'ROAD curves: off',
  'class images: 128 → 96 steps',
  'class images: 5 → the 4 classes predicted most often',
  'randomization check: 2 → 1 sample',
  'randomization check: 5 → 3 groups of layers',
  'randomization check and pointing game: RISE with 50 masks',
  'randomization check and pointing game: Integrated Gradients with 12 steps',
  'activation maximization: 96 → 48 steps',
  'activation maximization: 16 → 8 channels per layer',
  'activation maximization: 48 → 24 steps',
  'activation maximization: 8 → 4 channels per layer',
  'activation maximization: 4 → 3 conv layers (the last 2 and the first 1)',
  'class images: dropped',
  'randomization check: 3 → 2 groups of layers',
  'activation maximization: dropped',
  'randomization check: dropped',
  'dataset examples: dropped',
  'RISE: 500 → 300 masks',
  'Integrated Gradients: 128 → 32 steps',
  'Occlusion: 3-pixel patches side by side (stride 3)',
  'Integrated Gradients: 32 → 20 steps',
  'RISE: 300 → 100 masks',
  'deletion/insertion curves: 8 → 6 steps',
  'Integrated Gradients: 20 → 12 steps',
  'deletion/insertion curves: 6 → 4 steps',
];

beforeAll(async () => {
  await useBackend('wasm');
});

describe('FLOPs', () => {
  it('counts a hand-worked model exactly', () => {
    // 8x8x3 → conv 3x3 'same' 4 filters: 64 positions × 27 × 4 MACs; depthwise 3x3 'valid' → 6x6x4: 36 × 9 × 4;
    // flatten 144; dense 144 → 5: 720 MACs; its softmax output 5. FLOPs = 2 × MACs + element counts of the rest.
    const m = tf.sequential({ layers: [
      tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, padding: 'same' }),
      tf.layers.depthwiseConv2d({ kernelSize: 3 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 5 }),
    ] });
    expect(modelFlops(m)).toBe(2 * (64 * 27 * 4) + 2 * (36 * 9 * 4) + 144 + 2 * 144 * 5);
  });

  it('matches the published multiply-adds of VGG16 (15.5 G) and MobileNetV2 1.0 (300 M) at 224x224', () => {
    const v = vgg({ depth: 16 });
    const m = mobileNetV2({ alpha: 1.0 });
    // Simonyan & Zisserman / Sandler et al. count multiply-adds of the conv and dense layers: 15.47 G and 300 M.
    expect(modelFlops(v) / 2 / 15.47e9).toBeGreaterThan(0.99);
    expect(modelFlops(v) / 2 / 15.47e9).toBeLessThan(1.02);
    expect(modelFlops(m) / 2 / 300e6).toBeGreaterThan(0.98);
    expect(modelFlops(m) / 2 / 300e6).toBeLessThan(1.1);
    v.dispose();
    m.dispose();
  });
});

describe('memory plan', () => {
  it('a gradient batch of the planned size stays within the budget, and two more images would not', async () => {
    const model = mobileNetV2({ alpha: 0.35, inputShape: [96, 96, 3], numClasses: 4 });
    const cost = await measureCost(model);
    expect(cost.gradient.bytesPerImage).toBeGreaterThan(cost.forward.bytesPerImage);
    const budget = cost.gradient.fixedBytes + 5.5 * cost.gradient.bytesPerImage;
    const { gradient } = batchLimits(cost, budget);
    expect(gradient).toBe(5);
    const peak = async (n: number) => {
      const x = tf.randomUniform([n, 96, 96, 3]);
      const before = tf.memory().numBytes;
      const info = await tf.profile(() => tf.tidy(() => tf.grad((v: tf.Tensor) => targetScore(model, v, new Array<number>(n).fill(1)))(x).dataSync()));
      x.dispose();
      return info.peakBytes - before;
    };
    expect(await peak(gradient)).toBeLessThanOrEqual(budget);
    expect(await peak(gradient + 2)).toBeGreaterThan(budget);
    expect(batchLimits(cost, cost.gradient.fixedBytes + 0.5 * cost.gradient.bytesPerImage).gradient).toBe(0);
    model.dispose();
  });

  it('every method gives the same maps batched one image per pass as all at once', () => {
    const model = tinyVgg({ inputShape: [24, 24, 3], numClasses: 3, seed: 5 });
    const x = tf.randomUniform([3, 24, 24, 3], 0, 1, 'float32', 9) as tf.Tensor4D;
    const params: Record<string, Record<string, unknown>> = {
      'integrated-gradients': { steps: 6 }, 'smoothgrad-saliency': { samples: 5 }, 'score-cam': { maxChannels: 5 }, occlusion: { patch: 6, stride: 3 },
    };
    for (const m of ATTRIBUTION_METHODS) {
      const p = m.params.parse(params[m.id] ?? {}) as Record<string, unknown>;
      const input = { model, x, targets: [0, 2, 1], seed: 3 };
      const whole = attributeInChunks(m, input, p);
      const single = attributeInChunks(m, { ...input, limits: { forward: 1, gradient: 1 } }, p);
      let worst = 0;
      const scale = Math.max(...whole.maps.map(Math.abs), 1e-12);
      whole.maps.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - single.maps[i]) / scale)));
      expect(worst, m.id).toBeLessThan(1e-4);
    }
    x.dispose();
    model.dispose();
  });
});

describe('splitting a model over processes', () => {
  it('gives every sample to exactly one part, and fewer to part 1 when it also computes the model views', () => {
    for (const [n, count, views] of [[10, 2, 7], [10, 2, 0], [7, 3, 2], [3, 2, 9], [1, 4, 0]] as const) {
      const parts = Array.from({ length: count }, (_, i) => partPositions(n, { index: i + 1, count }, views));
      expect(parts.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
      if (views > 0 && n >= count) expect(parts[0].length).toBeLessThan(Math.ceil(n / count));
    }
    // 10 samples, views worth 7: part 1 takes round(17 / 2 − 7) = 2.
    expect(partPositions(10, { index: 1, count: 2 }, 7)).toEqual([8, 9]);
  });

  it('merge takes each sample from the part that explained it', () => {
    const sample = (id: string, method?: string) => ({ id, slug: id, label: -1, predicted: 0, probability: 1, top: [], image: { src: '/x.png', width: 1, height: 1, alt: '' }, attributions: method ? [{ method } as never] : [] });
    const base = { slug: 'm', samples: [] } as unknown as ModelReport;
    const p1 = { ...base, part: { index: 1, count: 2, explained: [2] }, samples: [sample('a'), sample('b'), sample('c', 'p1')] };
    const p2 = { ...base, part: { index: 2, count: 2, explained: [0, 1] }, samples: [sample('a', 'p2'), sample('b', 'p2'), sample('c')] };
    const joined = joinParts([p2, p1] as ModelReport[]);
    expect(joined.samples.map((s) => s.attributions[0]?.method)).toEqual(['p2', 'p2', 'p1']);
    expect(() => joinParts([p1, { ...p2, part: { index: 2, count: 2, explained: [0] } }] as ModelReport[])).toThrow(/no part of 'm' explained sample b/);
  });
});

describe('budget and skipped views', () => {
  it('trims cuts in order only while the estimate exceeds the budget', () => {
    let work = 100;
    const cut = (what: string, saves: number) => () => {
      work -= saves;
      return { what, saved: saves };
    };
    expect(trimToBudget(() => work, 75, [cut('a', 10), cut('b', 20), cut('c', 30)]).map((t) => t.what)).toEqual(['a', 'b']);
    expect(work).toBe(70);
  });

  it('a budget trims the optional work in order, lists each cut, and never cuts the samples\' maps', async () => {
    const data = generateShapes({ count: 4, seed: 4, size: 24 });
    const model = tinyVgg({ inputShape: [24, 24, 3], numClasses: 5, seed: 1 });
    // A made-up cost table (a forward pass ~0.1 s and a gradient pass ~0.4 s per image) so the table, not this machine, decides.
    const costTable = { reference: 'test', forward: { conv: 0, depthwise: 0, dense: 0, values: 0, layer: 0, call: 100 }, gradient: { conv: 0, depthwise: 0, dense: 0, values: 0, layer: 0, call: 400 }, feature: { dft: 0, pixel: 0, step: 100 } };
    const v = await visualize({
      model, slug: 'budget-test', data, sampleIndices: [0, 1], publicDir: mkdtempSync(join(tmpdir(), 'convlens-budget-')), seed: 1,
      limits: { forward: 1, gradient: 1 }, memory: 1e8, budget: 1, localizationImages: 0, costTable,
      methodParams: { 'smoothgrad-saliency': { samples: 2 } }, progressStream: { write: () => true } as never,
    });
    const cuts = v.work!.trimmed.map((t) => t.what);
    expect(cuts).toEqual(CUTS);
    expect(v.work!.trimmed.every((t) => t.saved > 0)).toBe(true);
    // The config's own SmoothGrad samples are not the budget's to cut; every sample keeps every method.
    expect(v.samples[0].attributions.find((a) => a.method === 'smoothgrad-saliency')!.params).toMatchObject({ samples: 2 });
    expect(v.samples.every((s) => s.attributions.length === ATTRIBUTION_METHODS.length)).toBe(true);
    expect(v.samples[0].attributions[0].faithfulness!.deletion).toHaveLength(5);
    expect(v.samples[0].attributions.find((a) => a.method === 'integrated-gradients')!.params).toMatchObject({ steps: 12 });
    expect(v.randomization).toBeUndefined();
    expect(v.classMax).toEqual([]);
    expect(v.layerViews.every((l) => l.actmax.length === 0)).toBe(true);
    model.dispose();
  });

  it('a model whose gradient pass does not fit skips the gradient methods and activation maximization, saying why', async () => {
    const data = generateShapes({ count: 4, seed: 4, size: 24 });
    const model = tinyVgg({ inputShape: [24, 24, 3], numClasses: 5, seed: 1 });
    const before = tf.memory().numTensors;
    const v = await visualize({
      model, slug: 'skip-test', data, sampleIndices: [0, 1], publicDir: mkdtempSync(join(tmpdir(), 'convlens-skip-')), seed: 1,
      actmax: { maxChannels: 1, steps: 2 }, limits: { forward: 8, gradient: 0 }, memory: 1e6, localizationImages: 0,
    });
    expect(tf.memory().numTensors).toBe(before);
    // The forward-only methods still run.
    expect(v.samples[0].attributions.map((a) => a.method)).toEqual(['eigen-cam', 'ablation-cam', 'occlusion', 'rise']);
    expect(v.work!.skipped.map((s) => s.what)).toEqual(expect.arrayContaining(['Grad-CAM', 'Integrated Gradients', 'Score-CAM', 'Activation maximization']));
    expect(v.work!.skipped[0].why).toMatch(/more than the 1 MiB the memory plan allows \(raise `memory`/);
    expect(v.layerViews.every((l) => l.actmax.length === 0)).toBe(true);
    model.dispose();
  });
});
