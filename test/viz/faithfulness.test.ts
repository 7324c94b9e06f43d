import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { deletionInsertion, pixelOrder, trapezoid } from '../../src/viz/metrics/faithfulness.ts';
import { useBackend } from '../helpers/backends.ts';

beforeAll(async () => {
  await useBackend('wasm');
});

/** Two classes; logit_0 = 8 · (value of pixel 0) − 4, logit_1 = 0: only pixel 0 matters. */
function onePixelModel(): tf.LayersModel {
  const m = tf.sequential();
  m.add(tf.layers.flatten({ inputShape: [2, 2, 1] }));
  m.add(tf.layers.dense({ units: 2, activation: 'softmax', name: 'd' }));
  m.getLayer('d').setWeights([tf.tensor2d([[8, 0], [0, 0], [0, 0], [0, 0]]), tf.tensor1d([-4, 0])]);
  return m;
}

describe('deletion and insertion', () => {
  it('trapezoid and ordering by hand', () => {
    expect(trapezoid([1, 0.5, 0])).toBe(0.5);
    expect(trapezoid([1, 1, 0, 0, 0])).toBe(0.375);
    expect(Array.from(pixelOrder([0.1, 0.9, 0.9, -1]))).toEqual([1, 2, 0, 3]);
  });

  it('a map that ranks the decisive pixel first beats one that ranks it last', () => {
    const m = onePixelModel();
    const x = tf.ones([1, 2, 2, 1]) as tf.Tensor4D;
    const p1 = 1 / (1 + Math.exp(-4)); // softmax([4, 0])[0]
    const p0 = 1 / (1 + Math.exp(4)); //  softmax([−4, 0])[0]
    const good = deletionInsertion(m, x, [1, 0, 0, 0], 0, 4);
    const bad = deletionInsertion(m, x, [0, 1, 1, 1], 0, 4);
    // Good deletion drops at the first step: [p1, p0, p0, p0, p0]; bad keeps p1 until the last pixel goes.
    expect(good.deletion.map((v) => Number(v.toFixed(5)))).toEqual([p1, p0, p0, p0, p0].map((v) => Number(v.toFixed(5))));
    expect(bad.deletion.map((v) => Number(v.toFixed(5)))).toEqual([p1, p1, p1, p1, p0].map((v) => Number(v.toFixed(5))));
    expect(good.deletionAuc).toBeLessThan(bad.deletionAuc);
    expect(good.insertionAuc).toBeGreaterThan(bad.insertionAuc);
    expect(good.deletionAuc).toBeCloseTo((p1 + p0) / 8 + (3 * p0) / 4, 5);
  });
});
