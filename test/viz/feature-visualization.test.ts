/**
 * Feature visualization the Lucid way: the inverse DFT by matrices against a hand-worked cosine, the rotation by
 * three shears against where a point must go, determinism and leaks, and the comparison the parametrisation is
 * for — at equal steps it reaches a higher channel activation than pixel-space ascent (the report's former
 * method, with its regularisers) on trained zoo models: LeNet-5 on Fashion-MNIST and the GAP CNN on shapes.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { fashionMnist, splitDataset } from '../../src/data/dataset.ts';
import { generateShapes } from '../../src/data/shapes.ts';
import { gapCnn } from '../../src/models/gap-cnn.ts';
import { lenet5 } from '../../src/models/lenet5.ts';
import { fit } from '../../src/train/fit.ts';
import { l2Penalty, maximize, type Objective, totalVariation } from '../../src/viz/activation-maximization.ts';
import { fourierMaximize, idft, rotate, spectrumToImage } from '../../src/viz/feature-visualization.ts';
import { useBackend } from '../helpers/backends.ts';

beforeAll(async () => {
  await useBackend('wasm');
});

describe('the Fourier parametrisation', () => {
  it('one frequency (u = 1, v = 2) becomes cos(2π(y/8 + 2x/6)) / 48', () => {
    const re = new Float32Array(8 * 6);
    re[1 * 6 + 2] = 1;
    const img = tf.tidy(() => {
      const F8 = idft(8);
      const F6 = idft(6);
      return spectrumToImage(tf.tensor4d(re, [1, 1, 8, 6]), tf.zeros([1, 1, 8, 6]), F8, F6).dataSync();
    });
    const want = Array.from({ length: 48 }, (_, i) => Math.cos(2 * Math.PI * (Math.floor(i / 6) / 8 + (2 * (i % 6)) / 6)) / 48);
    img.forEach((v, i) => expect(v).toBeCloseTo(want[i], 6));
  });

  it('rotates a point about the centre by the angle asked (three shears)', () => {
    // A bright pixel 6 to the right of the centre of a 21x21 image, rotated by 30°: its centroid moves to
    // (row, col) = centre + 6 · (sin 30°, cos 30°) in image coordinates (rows down, so the shears turn clockwise).
    const x = new Float32Array(21 * 21);
    x[10 * 21 + 16] = 1;
    const out = tf.tidy(() => rotate(tf.tensor4d(x, [1, 21, 21, 1]), Math.PI / 6).dataSync());
    let m = 0;
    let cy = 0;
    let cx = 0;
    out.forEach((v, i) => {
      m += v;
      cy += v * Math.floor(i / 21);
      cx += v * (i % 21);
    });
    expect(m).toBeCloseTo(1, 1);
    expect(cy / m).toBeCloseTo(10 + 6 * Math.sin(Math.PI / 6), 0);
    expect(cx / m).toBeCloseTo(10 + 6 * Math.cos(Math.PI / 6), 0);
  });

  it('rotates as the product of three dense interpolation matrices (float64), and its gradient is their transpose', () => {
    // Reference: each shear as an explicit n x n matrix per line (row i takes (1 − f) of pixel ⌊i − s⌋ and f of
    // the next), multiplied out in float64 — the construction the sparse shifts replace.
    const [N, H, W, C] = [2, 9, 11, 3];
    const theta = (-7 * Math.PI) / 180;
    const a = -Math.tan(theta / 2);
    const b = Math.sin(theta);
    const shear = (v: Float64Array, along: 'x' | 'y', k: number): Float64Array => {
      const out = new Float64Array(v.length);
      const at = (n: number, y: number, x: number, c: number) => ((n * H + y) * W + x) * C + c;
      const lines = along === 'x' ? H : W;
      const len = along === 'x' ? W : H;
      for (let l = 0; l < lines; l++) {
        const s = k * (l - ((along === 'x' ? H : W) - 1) / 2);
        const M = Array.from({ length: len }, () => new Float64Array(len));
        for (let i = 0; i < len; i++) {
          const i0 = Math.floor(i - s);
          const f = i - s - i0;
          if (i0 >= 0 && i0 < len) M[i][i0] += 1 - f;
          if (f > 0 && i0 + 1 >= 0 && i0 + 1 < len) M[i][i0 + 1] += f;
        }
        for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let i = 0; i < len; i++) {
          let sum = 0;
          for (let j = 0; j < len; j++) sum += M[i][j] * (along === 'x' ? v[at(n, l, j, c)] : v[at(n, j, l, c)]);
          out[along === 'x' ? at(n, l, i, c) : at(n, i, l, c)] = sum;
        }
      }
      return out;
    };
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) - 0.5;
    const x = Float32Array.from({ length: N * H * W * C }, rand);
    const want = shear(shear(shear(Float64Array.from(x), 'x', a), 'y', b), 'x', a);
    const before = tf.memory().numTensors;
    const got = tf.tidy(() => rotate(tf.tensor4d(x, [N, H, W, C]), theta).dataSync());
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
    // Dot-product test: ⟨R x, y⟩ = ⟨x, Rᵀ y⟩ with Rᵀ y the gradient of ⟨R x, y⟩ with respect to x.
    const y = Float32Array.from({ length: x.length }, rand);
    const grad = tf.tidy(() => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(rotate(t as tf.Tensor4D, theta), tf.tensor4d(y, [N, H, W, C]))))(tf.tensor4d(x, [N, H, W, C])).dataSync());
    let lhs = 0;
    let rhs = 0;
    want.forEach((v, i) => (lhs += v * y[i]));
    grad.forEach((g, i) => (rhs += g * x[i]));
    expect(rhs).toBeCloseTo(lhs, 4);
    expect(grad.some((g) => g !== 0)).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('is deterministic for a seed and leaks no tensor; several images per channel differ', () => {
    const m = lenet5({ seed: 3 });
    const before = tf.memory().numTensors;
    const run = () => fourierMaximize(m, [{ kind: 'channel', layer: 'conv2d_1', channel: 2 }], { steps: 6, seed: 4, scale: 1 / 255, offset: 0, images: 2, diversity: 1 });
    const a = run();
    const b = run();
    expect(Array.from(b.rgb)).toEqual(Array.from(a.rgb));
    expect(a.values).toHaveLength(2);
    expect(Array.from(a.rgb.subarray(0, 784))).not.toEqual(Array.from(a.rgb.subarray(784)));
    tf.dispose([a.images, b.images]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('batching', () => {
  it('an objective\'s image does not depend on the objectives sharing its batch (the memory plan decides those)', () => {
    const m = lenet5({ seed: 3 });
    const a: Objective = { kind: 'channel', layer: 'conv2d', channel: 1 };
    const b: Objective = { kind: 'channel', layer: 'conv2d', channel: 4 };
    const alone = fourierMaximize(m, [a], { steps: 5, seed: 8, scale: 1 / 255, offset: 0 });
    const pair = fourierMaximize(m, [b, a], { steps: 5, seed: 8, scale: 1 / 255, offset: 0 });
    const diff = Math.max(...Array.from(alone.rgb, (v, i) => Math.abs(v - pair.rgb[784 + i])));
    expect(diff).toBeLessThanOrEqual(1);
    expect(pair.values[1]).toBeCloseTo(alone.values[0], 4);
    tf.dispose([alone.images, pair.images]);
  });
});

describe('Fourier beats pixel-space ascent at equal steps on trained zoo models', () => {
  const compare = (model: tf.LayersModel, objectives: Objective[], range: [number, number], steps: number) => {
    const pixel = maximize(model, objectives, {
      steps, stepSize: 0.01, range, seed: 1, jitter: { pixels: 1 },
      regularizers: [totalVariation(0.05), l2Penalty(0.01, (range[0] + range[1]) / 2)],
    });
    const fourier = fourierMaximize(model, objectives, { steps, seed: 1, scale: 1 / 255, offset: 0 });
    tf.dispose([pixel.images, fourier.images]);
    return { pixel: pixel.values, fourier: fourier.values };
  };

  it('LeNet-5 trained on Fashion-MNIST: four channels of its last conv layer', () => {
    const model = lenet5({ seed: 1 });
    const { train } = splitDataset(fashionMnist('train'), 1000, 1);
    fit(model, { ...train, count: 6000 }, { epochs: 1, batchSize: 64, seed: 1 });
    const objectives: Objective[] = [0, 3, 7, 11].map((channel) => ({ kind: 'channel', layer: 'conv2d_1', channel }));
    const r = compare(model, objectives, [0, 1], 64);
    const mean = (v: number[]) => v.reduce((t, x) => t + x, 0) / v.length;
    expect(mean(r.fourier)).toBeGreaterThan(mean(r.pixel));
    model.dispose();
  }, 120_000);

  it('GAP CNN trained on shapes: channels of its last conv layers', () => {
    const model = gapCnn({ inputShape: [64, 64, 3], numClasses: 5, seed: 1 });
    const train = generateShapes({ count: 600, seed: 1, clutter: 0 });
    fit(model, train, { epochs: 2, batchSize: 32, learningRate: 3e-3, seed: 1 });
    const convs = model.layers.filter((l) => l.getClassName() === 'Conv2D').map((l) => l.name);
    const objectives: Objective[] = [convs.at(-1)!, convs.at(-3)!].flatMap((layer) => [0, 5].map((channel) => ({ kind: 'channel' as const, layer, channel })));
    const r = compare(model, objectives, [0, 1], 48);
    const mean = (v: number[]) => v.reduce((t, x) => t + x, 0) / v.length;
    expect(mean(r.fourier)).toBeGreaterThan(mean(r.pixel));
    model.dispose();
  }, 300_000);
});
