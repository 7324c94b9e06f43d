/**
 * The six methods after the first ten — LayerCAM, HiResCAM, XGradCAM, EigenCAM, Ablation-CAM and RISE — against
 * hand-worked answers on a one-conv model, float64 references on LeNet-5 (LayerCAM, HiResCAM and XGradCAM from
 * the plain-loop activations and gradients; EigenCAM from a Jacobi eigen-decomposition of the centred activations'
 * covariance), and slow one-at-a-time loops (Ablation-CAM zeroing one channel per forward pass, RISE one mask per
 * forward pass).
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/data/batches.ts';
import { lenet5 } from '../../src/models/lenet5.ts';
import { runGraph, tailInputs } from '../../src/engine/graph.ts';
import { ablationCam } from '../../src/viz/methods/ablation-cam.ts';
import { eigenCam, firstComponentProjection } from '../../src/viz/methods/eigen-cam.ts';
import { hiResCam } from '../../src/viz/methods/hires-cam.ts';
import { layerCam } from '../../src/viz/methods/layer-cam.ts';
import { rise, riseMasks, riseParams } from '../../src/viz/methods/rise.ts';
import { xGradCam } from '../../src/viz/methods/xgrad-cam.ts';
import { reference, weightsOf } from '../helpers/lenet-f64.ts';
import { relError, useBackend } from '../helpers/backends.ts';
import { oneConv, oneConvInput, trainedLenet } from '../helpers/small-models.ts';

beforeAll(async () => {
  await useBackend('wasm');
});

const X = oneConvInput;
// A = [[4, 6], [3, 5]]; logit_0 = 2 · mean(A) = 9, logit_1 = −4.5; ∂logit_0/∂A = 0.5, ∂logit_1/∂A = −0.25.
const low = (method: typeof layerCam, target: number) => Array.from(method.attribute({ model: oneConv(), x: X(), targets: [target], seed: 0 }, {} as never).lowRes!.dataSync());

describe('the six methods on a one-conv model (worked by hand)', () => {
  it('LayerCAM = ReLU(ReLU(g) · A): 0.5 · A for class 0, 0 for class 1 (negative gradient)', () => {
    expect(low(layerCam, 0)).toEqual([2, 3, 1.5, 2.5]);
    expect(low(layerCam, 1)).toEqual([0, 0, 0, 0]);
  });
  it('HiResCAM = ReLU(g · A): the same here, since the gradient is constant over positions', () => {
    expect(low(hiResCam, 0)).toEqual([2, 3, 1.5, 2.5]);
    expect(low(hiResCam, 1)).toEqual([0, 0, 0, 0]);
  });
  it('XGradCAM: w = Σ g·A / Σ A = 0.5', () => {
    expect(relError(low(xGradCam, 0), [2, 3, 1.5, 2.5])).toBeLessThan(1e-6);
  });
  it('EigenCAM with one channel: the centred activations A − 4.5, ReLU → [0, 1.5, 0, 0.5], for any class', () => {
    expect(low(eigenCam, 0)).toEqual([0, 1.5, 0, 0.5]);
    expect(low(eigenCam, 1)).toEqual([0, 1.5, 0, 0.5]);
  });
  it('Ablation-CAM: zeroing the one channel takes the logit from 9 (−4.5) to 0, so w = 1 and the map is A', () => {
    const r = ablationCam.attribute({ model: oneConv(), x: X(), targets: [0], seed: 0 }, { batchSize: 4 });
    expect(Array.from(r.lowRes!.dataSync())).toEqual([4, 6, 3, 5]);
    expect(low(ablationCam as never, 1)).toEqual([4, 6, 3, 5]);
  });
});

describe('float64 references on LeNet-5 at conv2d_1', () => {
  let model: tf.LayersModel;
  let x: tf.Tensor4D;
  const targets = [3, 7];
  beforeAll(() => {
    ({ model, x } = trainedLenet());
  });
  const refs = () => {
    const W = weightsOf(model);
    const px = x.arraySync() as number[][][][];
    return [0, 1].map((b) => reference(W, px[b].flat(2), targets[b]));
  };
  const relu = (v: number) => (v > 0 ? v : 0);
  const check = (method: typeof layerCam, expected: (r: ReturnType<typeof reference>) => number[]) => {
    const r = method.attribute({ model, x, targets, seed: 0 }, {} as never);
    expect(r.lowRes!.shape).toEqual([2, 8, 8]);
    const got = r.lowRes!.arraySync() as number[][][];
    refs().forEach((ref, b) => {
      const want = expected(ref);
      expect(Math.max(...want)).toBeGreaterThan(0);
      expect(relError(got[b].flat(), want)).toBeLessThan(1e-4);
    });
  };
  const perPosition = (ref: ReturnType<typeof reference>, f: (a: number, g: number) => number) =>
    Array.from({ length: 64 }, (_, p) => relu(Array.from({ length: 16 }, (_, k) => f(ref.A.v[p * 16 + k], ref.G.v[p * 16 + k])).reduce((s, v) => s + v, 0)));

  it('LayerCAM', () => check(layerCam, (ref) => perPosition(ref, (a, g) => relu(g) * a)));
  it('HiResCAM', () => check(hiResCam, (ref) => perPosition(ref, (a, g) => g * a)));
  it('XGradCAM', () =>
    check(xGradCam, (ref) => {
      const w = Array.from({ length: 16 }, (_, k) => {
        let ga = 0;
        let a = 0;
        for (let p = 0; p < 64; p++) {
          ga += ref.G.v[p * 16 + k] * ref.A.v[p * 16 + k];
          a += ref.A.v[p * 16 + k];
        }
        return ga / (a + 1e-7);
      });
      return Array.from({ length: 64 }, (_, p) => relu(w.reduce((s, wk, k) => s + wk * ref.A.v[p * 16 + k], 0)));
    }));
  it('EigenCAM: the projection on the covariance\'s top eigenvector (Jacobi), sign towards the channels\' sum', () =>
    check(eigenCam, (ref) => eigenReference(ref.A.v, 64, 16).map(relu)));

  it('Ablation-CAM against one forward pass per zeroed channel', () => {
    const r = ablationCam.attribute({ model, x, targets, seed: 0 }, { batchSize: 5 });
    const A = runGraph(model, x, { capture: ['conv2d_1'] }).captured['conv2d_1'] as tf.Tensor4D;
    const got = r.lowRes!.arraySync() as number[][][];
    for (let b = 0; b < 2; b++) {
      const ab = tf.slice(A, [b, 0, 0, 0], [1, 8, 8, 16]);
      const y = (a: tf.Tensor) => runGraph(model, tf.slice(x, [b, 0, 0, 0], [1, 28, 28, 1]), { replace: { conv2d_1: a }, logits: true }).output.dataSync()[targets[b]];
      const y0 = y(ab);
      const av = ab.dataSync();
      const w = Array.from({ length: 16 }, (_, k) => {
        const zeroed = Float32Array.from(av, (v, i) => (i % 16 === k ? 0 : v));
        return (y0 - y(tf.tensor4d(zeroed, [1, 8, 8, 16]))) / y0;
      });
      const want = Array.from({ length: 64 }, (_, p) => relu(w.reduce((s, wk, k) => s + wk * av[p * 16 + k], 0)));
      expect(relError(got[b].flat(), want)).toBeLessThan(1e-4);
    }
  });
});

describe('Ablation-CAM on a layer inside a residual block', () => {
  it("runs the layers after it with the shortcut's output given, and agrees with one full forward pass per zeroed channel", () => {
    const init = (seed: number) => tf.initializers.randomNormal({ mean: 0, stddev: 0.4, seed });
    const input = tf.input({ shape: [8, 8, 2] });
    const stem = tf.layers.conv2d({ name: 'stem', filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(1) }).apply(input) as tf.SymbolicTensor;
    const inner = tf.layers.conv2d({ name: 'inner', filters: 4, kernelSize: 3, padding: 'same', kernelInitializer: init(2) }).apply(stem) as tf.SymbolicTensor;
    const sum = tf.layers.add({ name: 'add' }).apply([stem, inner]) as tf.SymbolicTensor;
    const out = tf.layers.activation({ name: 'out', activation: 'relu' }).apply(sum) as tf.SymbolicTensor;
    const logits = tf.layers.dense({ name: 'fc', units: 3, kernelInitializer: init(3) }).apply(tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(out)) as tf.SymbolicTensor;
    const m = tf.model({ inputs: input, outputs: logits });
    expect(tailInputs(m, 'inner')).toEqual(['stem']);
    expect(tailInputs(m, 'out')).toEqual([]);
    const xs = tf.randomUniform([2, 8, 8, 2], 0, 1, 'float32', 5) as tf.Tensor4D;
    const r = ablationCam.attribute({ model: m, x: xs, targets: [0, 2], seed: 0, layer: 'inner' }, { batchSize: 3 });
    const A = runGraph(m, xs, { capture: ['inner'] }).captured.inner;
    const got = r.lowRes!.arraySync() as number[][][];
    for (let b = 0; b < 2; b++) {
      const t = [0, 2][b];
      // The reference recomputes the shortcut from the image for every ablated copy.
      const y = (a: tf.Tensor) => runGraph(m, tf.slice(xs, b, 1), { replace: { inner: a }, logits: true }).output.dataSync()[t];
      const ab = tf.slice(A, b, 1);
      const av = ab.dataSync();
      const y0 = y(ab);
      const w = Array.from({ length: 4 }, (_, k) => (y0 - y(tf.tensor4d(Float32Array.from(av, (v, i) => (i % 4 === k ? 0 : v)), [1, 8, 8, 4]))) / y0);
      const want = Array.from({ length: 64 }, (_, p) => Math.max(0, w.reduce((s2, wk, k) => s2 + wk * av[p * 4 + k], 0)));
      expect(relError(got[b].flat(), want)).toBeLessThan(1e-4);
      expect(Math.max(...want)).toBeGreaterThan(0);
    }
    m.dispose();
  });
});

/** The eigenvector of the largest eigenvalue of a symmetric matrix, by cyclic Jacobi rotations (float64). */
function jacobiTopEigenvector(m: number[][]): number[] {
  const n = m.length;
  const a = m.map((row) => [...row]);
  const V: number[][] = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) off += a[i][j] ** 2;
    if (off < 1e-24) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (Math.abs(a[p][q]) < 1e-300) continue;
        const theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k][p];
          const akq = a[k][q];
          a[k][p] = c * akp - s * akq;
          a[k][q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p][k];
          const aqk = a[q][k];
          a[p][k] = c * apk - s * aqk;
          a[q][k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = V[k][p];
          const vkq = V[k][q];
          V[k][p] = c * vkp - s * vkq;
          V[k][q] = s * vkp + c * vkq;
        }
      }
    }
  }
  let top = 0;
  for (let i = 1; i < n; i++) if (a[i][i] > a[top][top]) top = i;
  return V.map((row) => row[top]);
}

/** Ã v₁ from a Jacobi eigen-decomposition of the K × K covariance, the sign towards the channels' sum. */
function eigenReference(a: ArrayLike<number>, P: number, K: number): number[] {
  const mean = Array.from({ length: K }, (_, k) => Array.from({ length: P }, (_, p) => a[p * K + k]).reduce((s, v) => s + v, 0) / P);
  const Xc = Array.from({ length: P }, (_, p) => Array.from({ length: K }, (_, k) => a[p * K + k] - mean[k]));
  const cov = Array.from({ length: K }, (_, i) => Array.from({ length: K }, (_, j) => Xc.reduce((s, row) => s + row[i] * row[j], 0)));
  const v = jacobiTopEigenvector(cov);
  const proj = Xc.map((row) => row.reduce((s, val, k) => s + val * v[k], 0));
  const sums = Array.from({ length: P }, (_, p) => Array.from({ length: K }, (_, k) => a[p * K + k]).reduce((s, val) => s + val, 0));
  return proj.reduce((s, val, p) => s + val * sums[p], 0) < 0 ? proj.map((val) => -val) : proj;
}

describe('EigenCAM projection', () => {
  it('matches the Jacobi reference with fewer positions than channels (the positions\' Gram) and more (the channels\')', () => {
    const rand = mulberry32(3);
    for (const [P, K] of [[6, 20], [30, 5]]) {
      const a = Float64Array.from({ length: P * K }, () => rand());
      const got = firstComponentProjection(a, P, K);
      expect(got).toHaveLength(P);
      expect(relError(got, eigenReference(a, P, K))).toBeLessThan(1e-8);
    }
  });
});

describe('RISE', () => {
  it('masks: in [0, 1], kept with probability p on average, the same masks for any chunking', () => {
    const params = riseParams.parse({ masks: 400, cells: 4, probability: 0.5 });
    const all = riseMasks(7, params, 16, 16);
    expect(Math.min(...all)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...all)).toBeLessThanOrEqual(1);
    expect(Math.abs(all.reduce((s, v) => s + v, 0) / all.length - 0.5)).toBeLessThan(0.03);
    const part = riseMasks(7, params, 16, 16, 100, 50);
    expect(Array.from(part)).toEqual(Array.from(all.subarray(100 * 256, 150 * 256)));
    expect(Array.from(riseMasks(8, params, 16, 16, 0, 1))).not.toEqual(Array.from(all.subarray(0, 256)));
  });

  it('equals Σ P(c | x ⊙ M_i) M_i / (N p) computed one mask at a time', () => {
    const m = lenet5({ seed: 9 });
    const x = tf.randomUniform([2, 28, 28, 1], 0, 1, 'float32', 10) as tf.Tensor4D;
    const params = riseParams.parse({ masks: 24, cells: 5, probability: 0.4, batchSize: 7 });
    const r = rise.attribute({ model: m, x, targets: [1, 5], seed: 3 }, params);
    const masks = riseMasks(3, params, 28, 28);
    const xs = x.arraySync() as number[][][][];
    const want: number[] = [];
    [1, 5].forEach((t, b) => {
      const sum = new Float64Array(784);
      for (let i = 0; i < 24; i++) {
        const mask = masks.subarray(i * 784, (i + 1) * 784);
        const masked = tf.tensor4d(xs[b].flat(2).map((v, q) => v * mask[q]), [1, 28, 28, 1]);
        const p = (m.predict(masked) as tf.Tensor).dataSync()[t];
        for (let q = 0; q < 784; q++) sum[q] += p * mask[q];
      }
      want.push(...Array.from(sum, (v) => v / (24 * 0.4)));
    });
    expect(relError(r.maps.dataSync(), want)).toBeLessThan(1e-5);
    expect(r.extras).toEqual({ masks: [24, 24] });
  });

  it('finds the pixels a model looks at: a model that reads only the top-left quarter', () => {
    // logit_0 = 4 · mean of the top-left 8x8 of a 16x16 image, logit_1 = 0: only that quarter raises P(class 0).
    const kernel = new Float32Array(256 * 2);
    for (let y = 0; y < 8; y++) for (let xx = 0; xx < 8; xx++) kernel[(y * 16 + xx) * 2] = 4 / 64;
    const m = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [16, 16, 1] }), tf.layers.dense({ units: 2, activation: 'softmax' })] });
    m.layers[1].setWeights([tf.tensor2d(kernel, [256, 2]), tf.zeros([2])]);
    const r = rise.attribute({ model: m, x: tf.ones([1, 16, 16, 1]) as tf.Tensor4D, targets: [0], seed: 1 }, riseParams.parse({ masks: 500, cells: 4 }));
    const map = r.maps.dataSync();
    const quarter = (qy: number, qx: number) => {
      let s = 0;
      for (let y = qy * 8; y < qy * 8 + 8; y++) for (let xx = qx * 8; xx < qx * 8 + 8; xx++) s += map[y * 16 + xx];
      return s / 64;
    };
    expect(quarter(0, 0)).toBeGreaterThan(quarter(1, 1) + 0.05);
    expect(quarter(0, 0)).toBeGreaterThan(quarter(0, 1) + 0.05);
  });
});
