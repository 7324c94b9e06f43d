/**
 * The cost model: counts of a hand-worked model, pass milliseconds from a fixed table worked by hand, the
 * calibration's fit recovering known coefficients, and the default budget sizing a model from that table alone —
 * the same cuts in every part and on any machine, a config's own settings never cut, `budget: false` cutting
 * nothing, and the samples' maps always kept.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { fit } from '../../scripts/calibrate-cost.ts';
import { generateShapes } from '../../src/data/shapes.ts';
import { type CostTable, layerWork, modelWork, msPerImage, passMs } from '../../src/pipeline/cost-model.ts';
import { actmaxKeep, passRates } from '../../src/pipeline/plan.ts';
import { visualize } from '../../src/pipeline/visualize.ts';
import { DEFAULT_BUDGET } from '../../src/pipeline/visualize-options.ts';
import { gapCnn } from '../../src/models/gap-cnn.ts';
import { ATTRIBUTION_METHODS } from '../../src/viz/registry.ts';
import { useBackend } from '../helpers/backends.ts';

beforeAll(async () => {
  await useBackend('wasm');
});

/** A made-up table: the numbers below are worked from it by hand. */
const TABLE: CostTable = {
  reference: 'test',
  forward: { conv: 1e-6, depthwise: 2e-6, dense: 3e-6, values: 1e-5, layer: 0.1, call: 1 },
  gradient: { conv: 3e-6, depthwise: 6e-6, dense: 9e-6, values: 4e-5, layer: 0.3, call: 2 },
  feature: { dft: 1e-6, pixel: 1e-4, step: 2 },
};

function handModel(): tf.LayersModel {
  // 8x8x3 → conv 3x3 'same' 4 → BN → depthwise 3x3 'valid' (6x6x4) → flatten → dense 5.
  return tf.sequential({ layers: [
    tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, padding: 'same' }),
    tf.layers.batchNormalization(),
    tf.layers.depthwiseConv2d({ kernelSize: 3 }),
    tf.layers.flatten(),
    tf.layers.dense({ units: 5 }),
  ] });
}

describe('counted work', () => {
  it('counts multiply-adds by kind, values written and layers of a hand-worked model', () => {
    const m = handModel();
    const [conv, bn, dw, flat, dense] = m.layers;
    expect(layerWork(conv)).toEqual({ conv: 64 * 27 * 4, wide: 0, depthwise: 0, dense: 0, values: 256, layers: 1 });
    expect(layerWork(bn)).toEqual({ conv: 0, wide: 0, depthwise: 0, dense: 0, values: 256, layers: 1 });
    expect(layerWork(dw)).toEqual({ conv: 0, wide: 0, depthwise: 36 * 9 * 4, dense: 0, values: 144, layers: 1 });
    expect(layerWork(flat).layers).toBe(0);
    expect(layerWork(dense)).toEqual({ conv: 0, wide: 0, depthwise: 0, dense: 144 * 5, values: 5, layers: 1 });
    expect(modelWork(m)).toEqual({ conv: 6912, wide: 0, depthwise: 1296, dense: 720, values: 661, layers: 4 });
    // Truncated at the depthwise layer: what activation maximization of that layer runs.
    expect(modelWork(m, dw.name)).toEqual({ conv: 6912, wide: 0, depthwise: 1296, dense: 0, values: 656, layers: 3 });
    m.dispose();
    // Spatial convolutions with ≥ 128 channels on both sides count apart (they run at a better rate); 1x1 do not.
    const wide = tf.sequential({ layers: [
      tf.layers.conv2d({ inputShape: [4, 4, 128], filters: 128, kernelSize: 3, padding: 'same' }),
      tf.layers.conv2d({ filters: 256, kernelSize: 1 }),
      tf.layers.conv2d({ filters: 64, kernelSize: 3, padding: 'same' }),
    ] });
    expect(modelWork(wide)).toMatchObject({ wide: 16 * 9 * 128 * 128, conv: 16 * 128 * 256 + 16 * 9 * 256 * 64 });
    wide.dispose();
  });

  it('prices forward passes on the engine that runs them: ONNX Runtime for outputs, tfjs for captured activations', () => {
    const m = handModel();
    const w = modelWork(m);
    process.env.CONVLENS_FORWARD = 'onnxruntime';
    const table: CostTable = { ...TABLE, forwardOrt: { conv: 1e-7, depthwise: 2e-7, dense: 3e-7, values: 1e-6, layer: 0.01, call: 0.1 } };
    const rates = passRates(m, { forward: 4, gradient: 2 }, table);
    expect(rates.forward).toBeCloseTo(msPerImage(w, 'forwardOrt', 4, table), 9);
    expect(rates.capture).toBeCloseTo(msPerImage(w, 'forward', 4, table), 9);
    expect(rates.forward).toBeLessThan(rates.capture / 5);
    process.env.CONVLENS_FORWARD = 'tfjs';
    try {
      expect(passRates(m, { forward: 4, gradient: 2 }, table).forward).toBeCloseTo(rates.capture, 9);
    } finally {
      delete process.env.CONVLENS_FORWARD;
    }
    // A table without ONNX Runtime's coefficients prices it as the tfjs engine.
    expect(msPerImage(w, 'forwardOrt', 4, TABLE)).toBeCloseTo(msPerImage(w, 'forward', 4, TABLE), 9);
    m.dispose();
  });

  it('prices a call from the table: per image times the batch, plus per layer and per call', () => {
    const m = handModel();
    const w = modelWork(m);
    const perImage = 6912e-6 + 1296 * 2e-6 + 720 * 3e-6 + 661e-5; // 0.018282 ms
    expect(passMs(w, "forward", 1, TABLE)).toBeCloseTo(perImage + 0.4 + 1, 9);
    expect(passMs(w, 'forward', 10, TABLE)).toBeCloseTo(10 * perImage + 1.4, 9);
    expect(msPerImage(w, 'forward', 10, TABLE)).toBeCloseTo(perImage + 0.14, 9);
    expect(passMs(w, 'gradient', 2, TABLE)).toBeCloseTo(2 * (3 * 6912e-6 + 6 * 1296e-6 + 9 * 720e-6 + 4 * 661e-5) + 1.2 + 2, 9);
    // Side by side (parallel 2): the memory-bound terms double, the multiply-adds do not.
    const macs = 6912e-6 + 720 * 3e-6;
    expect(passMs(w, 'forward', 1, { ...TABLE, parallel: 2 })).toBeCloseTo(macs + 2 * (1296 * 2e-6 + 661e-5 + 0.4 + 1), 9);
    m.dispose();
  });

  it('the calibration fit recovers the coefficients that made the times, and keeps them non-negative', () => {
    const truth = [2e-8, 1e-8, 3e-7, 1e-6, 5e-7, 0.03, 0.8];
    const models = [[1e6, 0, 0, 1e4, 2e4, 8], [5e7, 1e7, 2e6, 1e5, 1e6, 150], [3e8, 2e9, 0, 4e6, 5e6, 40], [1e7, 0, 5e5, 0, 3e5, 60], [2e5, 0, 1e4, 5e4, 1e4, 12], [8e8, 5e8, 1e7, 2e5, 2e7, 160], [2e7, 3e8, 0, 1e3, 4e6, 30]];
    const rows = models.flatMap(([c, w, d, n, v, l]) => [1, 8].map((b) => {
      const x = [b * c, b * w, b * d, b * n, b * v, l, 1];
      return { x, y: x.reduce((t, xi, i) => t + xi * truth[i], 0) };
    }));
    const got = fit(rows);
    got.forEach((g, i) => expect(g / truth[i]).toBeCloseTo(1, 3));
    // A column that can only hurt the fit is dropped to 0, not made negative.
    const negative = fit([{ x: [1, 1], y: 1 }, { x: [2, 1], y: 1.5 }, { x: [4, 1], y: 2 }, { x: [8, 1], y: 3 }]);
    expect(Math.min(...negative)).toBeGreaterThanOrEqual(0);
  });
});

describe('the default budget', () => {
  const run = (model: tf.LayersModel, opts: Partial<Parameters<typeof visualize>[0]> = {}) => visualize({
    model, slug: 'cost-test', data: generateShapes({ count: 4, seed: 4, size: 32 }), sampleIndices: [0, 1, 2],
    publicDir: mkdtempSync(join(tmpdir(), 'convlens-cost-')), seed: 1, limits: { forward: 64, gradient: 16 }, memory: 1e8, localizationImages: 0,
    costTable: TABLE, progressStream: { write: () => true } as never, ...opts,
  });

  it('keeps the layers nearest the output and a third from the start', () => {
    const names = Array.from({ length: 10 }, (_, i) => `c${i}`);
    expect([...actmaxKeep(names, 3)]).toEqual(['c0', 'c8', 'c9']);
    expect([...actmaxKeep(names, 9)]).toEqual(['c0', 'c1', 'c2', 'c4', 'c5', 'c6', 'c7', 'c8', 'c9']);
    expect([...actmaxKeep(names, 12)]).toEqual(names);
  });

  it('cuts least-valued work first until the table says it fits, the same in every part, never a sample\'s maps', async () => {
    const model = gapCnn({ inputShape: [32, 32, 3], numClasses: 5, seed: 1 });
    const logs: string[] = [];
    const p1 = await run(model, { budget: 20, part: { index: 1, count: 2 }, log: (l) => logs.push(l), methodParams: { 'integrated-gradients': { steps: 40 } } });
    const p2 = await run(model, { budget: 20, part: { index: 2, count: 2 }, methodParams: { 'integrated-gradients': { steps: 40 } } });
    const cuts = p1.work!.trimmed.map((t) => t.what);
    expect(p2.work!.trimmed).toEqual(p1.work!.trimmed);
    expect(cuts[0]).toBe('deletion/insertion curves: 16 → 8 steps');
    expect(cuts[1]).toBe('ROAD curves: off');
    // Value order: class images and the randomization check go before activation maximization, which goes before dataset examples.
    const at = (re: RegExp) => cuts.findIndex((c) => re.test(c));
    expect(at(/^class images/)).toBeLessThan(at(/^activation maximization/));
    expect(at(/^randomization check: 2 → 1 sample/)).toBeLessThan(at(/^activation maximization/));
    if (at(/^dataset examples/) >= 0) expect(at(/^activation maximization: 16 → 8 channels/)).toBeLessThan(at(/^dataset examples/));
    // The config's IG steps are never the budget's to cut.
    expect(cuts.some((c) => c.startsWith('Integrated Gradients'))).toBe(false);
    expect(p1.work!.trimmed.every((t) => t.saved > 0)).toBe(true);
    expect(p1.work!.budget).toBe(20);
    expect(logs.some((l) => /views, estimated → took: .*layers [0-9.]+ → [0-9.]+ s/.test(l))).toBe(true);
    for (const p of [p1, p2]) expect([...p.samples.filter((s) => s.attributions.length > 0)].every((s) => s.attributions.length === ATTRIBUTION_METHODS.length)).toBe(true);
    expect(p1.samples.filter((s) => s.attributions.length > 0).length + p2.samples.filter((s) => s.attributions.length > 0).length).toBe(3);
    model.dispose();
  }, 600_000);

  it('budget: false cuts nothing; a cheap model fits the default untouched', async () => {
    const model = gapCnn({ inputShape: [32, 32, 3], numClasses: 5, seed: 1 });
    const opts = { actmax: { maxChannels: 1, steps: 2 }, datasetExamples: { images: 4 }, randomizationSteps: 1, methodParams: { 'integrated-gradients': { steps: 4 }, 'smoothgrad-saliency': { samples: 2 }, rise: { masks: 8 } } };
    const off = await run(model, { budget: false, ...opts, costTable: { ...TABLE, forward: { ...TABLE.forward, call: 1e4 } } });
    expect(off.work!.trimmed).toEqual([]);
    expect(off.work!.budget).toBeUndefined();
    const cheap = await run(model, opts);
    expect(cheap.work!.trimmed).toEqual([]);
    expect(cheap.work!.budget).toBe(DEFAULT_BUDGET);
    model.dispose();
  }, 600_000);
});
