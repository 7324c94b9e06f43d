/**
 * The fused batch normalization in training (engine/batch-norm.ts, kernels/batch-norm-train.ts) against tfjs's own
 * BatchNormalization on the cpu backend — output, gradients of x, gamma and beta, moving statistics — on 4-D and
 * 2-D inputs, channel counts with and without a SIMD tail, and inputs far from zero; against a float64
 * finite-difference reference; leak-free and bit-for-bit repeatable.
 */
import * as tf from '@tensorflow/tfjs';
import { getKernel } from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/data/batches.ts';
import { relError, useBackend } from '../helpers/backends.ts';

function randoms(n: number, seed: number, scale = 1, offset = 0): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale + offset);
}
const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

interface Run { y: Float32Array; dx: Float32Array; dgamma: Float32Array; dbeta: Float32Array; movingMean: Float32Array; movingVariance: Float32Array }

/** One training call of a BatchNormalization layer and the gradients of Σ w·y. */
function trainCall(shape: number[], seed: number, offset = 0, scale = 1): Run {
  const C = shape[shape.length - 1];
  const layer = tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-3, gammaInitializer: tf.initializers.randomUniform({ minval: 0.5, maxval: 1.5, seed }), betaInitializer: tf.initializers.randomUniform({ minval: -1, maxval: 1, seed: seed + 1 }) });
  layer.build(shape);
  const x = tf.tensor(randoms(size(shape), seed + 2, scale, offset), shape);
  const w = tf.tensor(randoms(size(shape), seed + 3), shape);
  const xv = tf.variable(x, true, `bn_test_x_${Math.random()}`);
  const vars = [xv, ...layer.trainableWeights.map((v) => v.read() as tf.Variable)];
  let y: Float32Array = new Float32Array();
  const { value, grads } = tf.variableGrads(() => {
    const out = layer.apply(xv, { training: true }) as tf.Tensor;
    y = out.dataSync() as Float32Array;
    return tf.sum(tf.mul(out, w)) as tf.Scalar;
  }, vars);
  const [dx, dgamma, dbeta] = vars.map((v) => grads[v.name].dataSync() as Float32Array);
  const weights = layer.getWeights();
  const run: Run = { y, dx, dgamma, dbeta, movingMean: weights[2].dataSync() as Float32Array, movingVariance: weights[3].dataSync() as Float32Array };
  expect(C).toBe(run.dgamma.length);
  tf.dispose([x, xv, w, value, ...Object.values(grads)]); // getWeights() returns the variables themselves
  for (const v of layer.weights) v.dispose();
  return run;
}

const cases: { shape: number[]; offset?: number; scale?: number }[] = [
  { shape: [6, 5, 7, 8] },
  { shape: [4, 3, 3, 5] }, // 5 channels: one SIMD step and a scalar tail
  { shape: [3, 4, 4, 3] }, // tail only
  { shape: [16, 12] }, // a dense head's batch norm
  { shape: [2, 9, 9, 4], offset: 100, scale: 0.01 }, // |mean| ≫ σ
  { shape: [32, 8, 8, 16] },
];

beforeAll(async () => {
  await useBackend('wasm');
});

describe('fused batch normalization in training', () => {
  it.each(cases)('matches tfjs\'s BatchNormalization on cpu: %j', async (c) => {
    await useBackend('cpu');
    expect(getKernel('ConvlensBatchNormTrain', 'cpu')).toBeUndefined(); // the reference is tfjs's own composite
    const cpu = trainCall(c.shape, 7, c.offset, c.scale);
    await useBackend('wasm');
    const info = await tf.profile(() => {
      const wasm = trainCall(c.shape, 7, c.offset, c.scale);
      for (const k of Object.keys(cpu) as (keyof Run)[]) expect(relError(wasm[k], cpu[k]), k).toBeLessThan(1e-5);
    });
    expect(info.kernels.some((k) => k.name === 'ConvlensBatchNormTrainGrad')).toBe(true);
    expect(info.kernels.some((k) => k.name === 'Mean')).toBe(false);
  });

  it('agrees with float64 finite differences of batch norm', async () => {
    await useBackend('wasm');
    const shape = [3, 2, 2, 5];
    const n = size(shape);
    const C = 5;
    const x0 = randoms(n, 21, 2);
    const w = randoms(n, 22);
    const gamma = randoms(C, 23, 0.5, 1);
    const beta = randoms(C, 24);
    const eps = 1e-3;
    const loss = (x: Float64Array) => {
      let total = 0;
      for (let c = 0; c < C; c++) {
        let m = 0;
        for (let i = c; i < n; i += C) m += x[i];
        m /= n / C;
        let v = 0;
        for (let i = c; i < n; i += C) v += (x[i] - m) ** 2;
        v /= n / C;
        for (let i = c; i < n; i += C) total += w[i] * (gamma[c] * (x[i] - m) / Math.sqrt(v + eps) + beta[c]);
      }
      return total;
    };
    const dx = tf.tidy(() => tf.grad((x: tf.Tensor) => {
      const stats = { movingMean: tf.zeros([C]), movingVariance: tf.ones([C]) };
      const [y] = tf.engine().runKernel('ConvlensBatchNormTrain', { x, gamma: tf.tensor(gamma), beta: tf.tensor(beta), ...stats }, { epsilon: eps, momentum: 0.9 }) as tf.Tensor[];
      return tf.sum(tf.mul(y, tf.tensor(w, shape)));
    })(tf.tensor(x0, shape)).dataSync());
    const h = 1e-6;
    const ref = Array.from({ length: n }, (_, i) => {
      const p = Float64Array.from(x0);
      const m = Float64Array.from(x0);
      p[i] += h;
      m[i] -= h;
      return (loss(p) - loss(m)) / (2 * h);
    });
    expect(relError(dx, ref)).toBeLessThan(1e-4);
  });

  it('leaks no tensor and repeats bit for bit', async () => {
    await useBackend('wasm');
    const before = tf.memory().numTensors;
    const a = trainCall([8, 6, 6, 12], 3);
    const b = trainCall([8, 6, 6, 12], 3);
    expect(tf.memory().numTensors).toBe(before);
    for (const k of Object.keys(a) as (keyof Run)[]) expect(Buffer.from(a[k].buffer).equals(Buffer.from(b[k].buffer)), k).toBe(true);
  });
});
