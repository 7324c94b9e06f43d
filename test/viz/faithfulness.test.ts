/**
 * Deletion and insertion: curves on a model where one pixel decides (worked by hand), the quadratic fractions and
 * the trapezoid over them, the blur against a direct 2-D Gaussian in float64, the Sobel baseline on a step edge,
 * and the baselines' determinism.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { curveFractions, deletionInsertion, randomMap, SampleCurves, sobelMap } from '../../src/viz/metrics/faithfulness.ts';
import { blurImage, pixelOrder, trapezoid } from '../../src/viz/metrics/removal.ts';
import { relError, useBackend } from '../helpers/backends.ts';

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
  it('trapezoid (even and uneven spacing), fractions and ordering by hand', () => {
    expect(trapezoid([1, 0.5, 0])).toBe(0.5);
    expect(trapezoid([1, 1, 0, 0, 0])).toBe(0.375);
    // Points at 0, 0.25, 1: (1 + 1)/2 · 0.25 + (1 + 0)/2 · 0.75 = 0.625.
    expect(trapezoid([1, 1, 0], [0, 0.25, 1])).toBe(0.625);
    expect(curveFractions(4)).toEqual([0, 1 / 16, 4 / 16, 9 / 16, 1]);
    expect(curveFractions(24).filter((f) => f > 0 && f <= 0.2)).toHaveLength(10);
    expect(Array.from(pixelOrder([0.1, 0.9, 0.9, -1]))).toEqual([1, 2, 0, 3]);
  });

  it('a map that ranks the decisive pixel first beats one that ranks it last', () => {
    const m = onePixelModel();
    const x = tf.ones([1, 2, 2, 1]) as tf.Tensor4D;
    const p1 = 1 / (1 + Math.exp(-4)); // softmax([4, 0])[0]
    const p0 = 1 / (1 + Math.exp(4)); //  softmax([−4, 0])[0]
    const fill = new Float32Array(4); // black
    const fractions = [0, 0.25, 0.5, 0.75, 1];
    const good = deletionInsertion(m, x, [1, 0, 0, 0], 0, { fractions, fill });
    const bad = deletionInsertion(m, x, [0, 1, 1, 1], 0, { fractions, fill });
    // Good deletion drops at the first step: [p1, p0, p0, p0, p0]; bad keeps p1 until the last pixel goes.
    expect(good.deletion.map((v) => Number(v.toFixed(5)))).toEqual([p1, p0, p0, p0, p0].map((v) => Number(v.toFixed(5))));
    expect(bad.deletion.map((v) => Number(v.toFixed(5)))).toEqual([p1, p1, p1, p1, p0].map((v) => Number(v.toFixed(5))));
    expect(good.deletionAuc).toBeLessThan(bad.deletionAuc);
    expect(good.insertionAuc).toBeGreaterThan(bad.insertionAuc);
    expect(good.deletionAuc).toBeCloseTo((p1 + p0) / 8 + (3 * p0) / 4, 5);
    expect(good.fractions).toEqual(fractions);
  });

  it('removed pixels take the fill image: a fill of 0.5 at pixel 0 gives logit 0, probability 1/2', () => {
    const m = onePixelModel();
    const x = tf.ones([1, 2, 2, 1]) as tf.Tensor4D;
    const c = deletionInsertion(m, x, [1, 0, 0, 0], 0, { fractions: [0, 0.25, 1], fill: Float32Array.from([0.5, 7, 7, 7]) });
    expect(c.deletion[1]).toBeCloseTo(0.5, 6);
    expect(c.insertion[0]).toBeCloseTo(0.5, 6);
  });
});

describe('the blurred copy', () => {
  it('equals a direct 2-D Gaussian (edges held) in float64', () => {
    const H = 9;
    const W = 7;
    const C = 2;
    const px = Float32Array.from({ length: H * W * C }, (_, i) => Math.sin(i * 1.7) + (i % 5));
    const sigma = 1.3;
    const got = blurImage(px, H, W, C, sigma);
    const r = Math.ceil(3 * sigma);
    const want: number[] = [];
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        for (let c = 0; c < C; c++) {
          let s = 0;
          let norm = 0;
          for (let i = -r; i <= r; i++) {
            for (let j = -r; j <= r; j++) {
              const w = Math.exp(-(i * i + j * j) / (2 * sigma * sigma));
              norm += w;
              s += w * px[(Math.min(H - 1, Math.max(0, y + i)) * W + Math.min(W - 1, Math.max(0, x + j))) * C + c];
            }
          }
          want.push(s / norm);
        }
      }
    }
    expect(relError(got, want)).toBeLessThan(1e-6);
  });
});

describe('the model-blind baselines', () => {
  it('Sobel: a vertical step edge is found on the two columns beside it and nowhere else', () => {
    // 4x4, left half 0, right half 1: |gx| = 4 on columns 1 and 2, 0 on 0 and 3.
    const px = Float32Array.from({ length: 16 }, (_, i) => (i % 4 >= 2 ? 1 : 0));
    expect(Array.from(sobelMap(px, 4, 4, 1))).toEqual([0, 4, 4, 0, 0, 4, 4, 0, 0, 4, 4, 0, 0, 4, 4, 0]);
  });

  it('random order is seeded; the baselines are deterministic per sample', () => {
    expect(Array.from(randomMap(10, 3))).toEqual(Array.from(randomMap(10, 3)));
    expect(Array.from(randomMap(10, 3))).not.toEqual(Array.from(randomMap(10, 4)));
    const m = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [8, 8, 3] }), tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.randomNormal({ seed: 2 }) })] });
    const x = tf.randomUniform([1, 8, 8, 3], 0, 1, 'float32', 6) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const run = () => {
      const c = new SampleCurves(m, x, 1, { fractions: curveFractions(6), baseline: 'blur', black: [0, 0, 0], seed: 9 });
      const b = c.baselines();
      c.dispose();
      return b;
    };
    const a = run();
    expect(tf.memory().numTensors).toBe(before);
    expect(run()).toEqual(a);
    expect(a.random.deletion).toHaveLength(7);
    expect(a.edges.deletion[0]).toBe(a.random.deletion[0]);
    expect(a.edges.deletion.at(-1)).toBe(a.random.deletion.at(-1));
  });
});
