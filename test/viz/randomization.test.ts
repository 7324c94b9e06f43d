import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { lenet5 } from '../../src/models/lenet5.ts';
import { cascadingRandomization, spearman } from '../../src/viz/metrics/randomization.ts';
import { randomizationVerdict } from '../../src/viz/metrics/verdict.ts';
import { gradCam } from '../../src/viz/methods/grad-cam.ts';
import { guidedBackprop } from '../../src/viz/methods/guided-backprop.ts';
import { useBackend } from '../helpers/backends.ts';

beforeAll(async () => {
  await useBackend('wasm');
});

describe('cascading randomization', () => {
  it('Spearman by hand, with ties', () => {
    expect(spearman([1, 2, 3, 4], [10, 20, 30, 40])).toBe(1);
    expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBe(-1);
    // Ranks (0.5, 0.5, 2) vs (0, 1, 2): ρ = Pearson of the ranks = √3 / 2.
    expect(spearman([5, 5, 7], [1, 2, 3])).toBeCloseTo(Math.sqrt(3) / 2, 12);
  });

  it('randomises layers top-down, restores the weights, and leaks nothing', () => {
    const m = lenet5({ seed: 3 });
    const x = tf.randomUniform([2, 28, 28, 1], 0, 1, 'float32', 4) as tf.Tensor4D;
    const before = m.getWeights().map((w) => Array.from(w.dataSync()));
    const tensors = tf.memory().numTensors;
    const r = cascadingRandomization(m, [gradCam, guidedBackprop] as never, x, [1, 2], 5, () => ({}));
    expect(r.steps.map((s) => s.layer)).toEqual(['dense_2', 'dense_1', 'dense', 'conv2d_1', 'conv2d']);
    expect(m.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(before);
    expect(tf.memory().numTensors).toBe(tensors);
    // Once every layer is random, Grad-CAM's map no longer matches the trained one.
    expect(Math.abs(r.steps[4].correlation['grad-cam'])).toBeLessThan(0.9);
  });

  it('groups a deep model\'s layers into at most maxSteps steps and resets BatchNorm to its initial state', () => {
    // conv → BN → conv → BN → dense: 5 weighted layers in 2 steps: ⌈5/2⌉ = 3 layers, then the other 2.
    const input = tf.input({ shape: [8, 8, 1] });
    let h = tf.layers.conv2d({ filters: 2, kernelSize: 3, name: 'c1' }).apply(input) as tf.SymbolicTensor;
    h = tf.layers.batchNormalization({ name: 'bn1' }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.conv2d({ filters: 2, kernelSize: 3, activation: 'relu', name: 'c2' }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.batchNormalization({ name: 'bn2' }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.flatten().apply(h) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 3, activation: 'softmax', name: 'out' }).apply(h) as tf.SymbolicTensor;
    const m = tf.model({ inputs: input, outputs: out });
    // Trained-looking BN statistics, so a reset is visible.
    for (const name of ['bn1', 'bn2']) m.getLayer(name).setWeights([tf.fill([2], 3), tf.fill([2], 0.5), tf.fill([2], 0.2), tf.fill([2], 4)]);
    const x = tf.randomUniform([1, 8, 8, 1], 0, 1, 'float32', 4) as tf.Tensor4D;
    const seen: number[][][] = [];
    const probe = { ...gradCam, attribute: (input: never, params: never) => {
      seen.push(m.getLayer('bn1').getWeights().map((w) => Array.from(w.dataSync())));
      return gradCam.attribute(input, params);
    } };
    const r = cascadingRandomization(m, [probe] as never, x, [0], 5, () => ({}), 2);
    expect(r.steps.map((s) => s.layer)).toEqual(['c2', 'c1']); // step 1: out, bn2, c2; step 2: bn1, c1
    // bn1 is untouched after step 1 and back at γ = 1, β = 0, mean 0, variance 1 after step 2.
    expect(seen[1]).toEqual(seen[0]);
    expect(seen[2]).toEqual([[1, 1], [0, 0], [0, 0], [1, 1]]);
    expect(m.getLayer('bn1').getWeights()[0].dataSync()[0]).toBe(3); // restored afterwards
  });
});

describe('the randomization verdict', () => {
  it('fails a map that stays similar (|ρ| > 0.5) in at least half the steps, whatever the last step says', () => {
    // Guided backprop on the GAP CNN (8 steps): similar in 6 → fails, though the last ρ is 0.36.
    expect(randomizationVerdict([0.97, 0.94, 0.89, 0.79, 0.68, 0.52, 0.48, 0.36])).toEqual({ passes: false, similarSteps: 6, steps: 8 });
    // Grad-CAM on the same model: one similar step → passes; negative ρ counts by magnitude.
    expect(randomizationVerdict([0.55, 0.21, -0.15, -0.54, -0.06, -0.08, 0.17, -0.22])).toEqual({ passes: true, similarSteps: 2, steps: 8 });
    expect(randomizationVerdict([0.9, 0.1]).passes).toBe(false); // half is enough to fail
    expect(randomizationVerdict([0.5, 0.5, 0.5]).passes).toBe(true); // 0.5 itself is not "similar"
  });
});
