import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { lenet5 } from '../../src/models/lenet5.ts';
import { cascadingRandomization, spearman } from '../../src/viz/metrics/randomization.ts';
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
});
