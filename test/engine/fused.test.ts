/**
 * convlens's fused SIMD kernels against tfjs's own formulas on the cpu backend and against float64 references:
 * the one-pass ReLU / ReLU6 / clip gradient (bit-identical to tfjs's, bounds and NaN included; finite differences
 * away from the kinks) and the one-pass Adam step (5 steps on odd-sized variables, rel. error ≤ 1e-5 against
 * tf.train.adam on cpu and against Adam in float64; bit-for-bit repeatable).
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/data/batches.ts';
import { FusedAdam } from '../../src/engine/adam.ts';
import { onBoth, relError, useBackend } from '../helpers/backends.ts';

function randoms(n: number, seed: number, scale = 4): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
}

// Values on every bound and kink, NaN, infinities, then random values; 4k + 3 elements so the scalar tail runs.
const special = [0, -0, 6, -1.5, 2, 1e-30, -1e-30, 6.000001, 5.999999, NaN, Infinity, -Infinity];
const xs = Float32Array.from([...special, ...randoms(4 * 37 + 3 - special.length, 3, 8)]);
const dys = randoms(xs.length, 4, 1);

const cases: [string, (x: tf.Tensor) => tf.Tensor][] = [
  ['relu', (x) => tf.relu(x)],
  ['relu6', (x) => tf.relu6(x)],
  ['clipByValue(-1.5, 2)', (x) => tf.clipByValue(x, -1.5, 2)],
  ['Keras ReLU(max_value=6) (relu then clip)', (x) => tf.layers.reLU({ maxValue: 6 }).apply(x) as tf.Tensor],
];

beforeAll(async () => {
  await useBackend('wasm');
});

describe('one-pass ReLU / ReLU6 / clip gradients', () => {
  it.each(cases)('%s: the same gradient as tfjs\'s formula on cpu, bit for bit', async (_, op) => {
    const f = () => tf.grad((x: tf.Tensor) => tf.sum(tf.mul(op(x), tf.tensor(dys))))(tf.tensor(xs));
    const { cpu, wasm } = await onBoth(f);
    expect(Array.from(wasm).map((v) => (Number.isNaN(v) ? 'NaN' : v))).toEqual(Array.from(cpu).map((v) => (Number.isNaN(v) ? 'NaN' : v)));
  });

  it('uses the fused kernel on wasm (one kernel call for the clip gradient)', async () => {
    await useBackend('wasm');
    const x = tf.tensor(xs);
    const info = await tf.profile(() => tf.grad((t: tf.Tensor) => tf.sum(tf.clipByValue(t, 0, 6)))(x));
    const names = info.kernels.map((k) => k.name);
    expect(names).toContain('ConvlensMaskGrad');
    expect(names).not.toContain('LogicalAnd');
    x.dispose();
    tf.dispose(info.result as tf.Tensor);
  });

  it.each(cases)('%s: finite differences agree away from the kinks', async (_, op) => {
    await useBackend('wasm');
    const x0 = randoms(143, 9, 8).map((v) => (Math.abs(v) < 0.05 || Math.abs(v - 6) < 0.05 || Math.abs(v + 1.5) < 0.05 || Math.abs(v - 2) < 0.05 ? v + 0.2 : v));
    const g = tf.tidy(() => tf.grad((x: tf.Tensor) => tf.sum(tf.mul(op(x), tf.tensor(dys.subarray(0, 143)))))(tf.tensor(x0)).dataSync());
    const f = (x: Float32Array) => tf.tidy(() => tf.sum(tf.mul(op(tf.tensor(x)), tf.tensor(dys.subarray(0, 143)))).dataSync()[0]);
    const h = 0.01;
    for (const i of [0, 17, 50, 101, 142]) {
      const plus = Float32Array.from(x0);
      const minus = Float32Array.from(x0);
      plus[i] += h;
      minus[i] -= h;
      expect(Math.abs((f(plus) - f(minus)) / (2 * h) - g[i])).toBeLessThan(2e-3);
    }
  });
});

/** Adam in float64, as Kingma & Ba write it with tfjs's epsilon placement. */
function adamReference(x0: Float32Array, grads: Float32Array[], lr: number, eps: number): Float64Array {
  const x = Float64Array.from(x0);
  const m = new Float64Array(x.length);
  const v = new Float64Array(x.length);
  grads.forEach((g, t) => {
    const c1 = 1 - 0.9 ** (t + 1);
    const c2 = 1 - 0.999 ** (t + 1);
    for (let i = 0; i < x.length; i++) {
      m[i] = 0.9 * m[i] + 0.1 * g[i];
      v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
      x[i] -= (lr * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + eps);
    }
  });
  return x;
}

describe('one-pass Adam', () => {
  const sizes = [1, 7, 64, 4 * 25 + 3];
  const steps = 5;
  const grads = sizes.map((n, k) => Array.from({ length: steps }, (_, t) => randoms(n, 100 + 10 * k + t, 1)));
  const starts = sizes.map((n, k) => randoms(n, 50 + k, 1));

  async function train(make: (lr: number) => tf.Optimizer): Promise<Float32Array[]> {
    const vars = starts.map((s, k) => tf.tidy(() => tf.variable(tf.tensor(s), true, `adam_test_${tf.getBackend()}_${k}_${Math.random()}`)));
    const opt = make(0.01);
    for (let t = 0; t < steps; t++) {
      const g = vars.map((v, k) => ({ name: v.name, tensor: tf.tensor(grads[k][t]) }));
      opt.applyGradients(g);
      tf.dispose(g.map((e) => e.tensor));
    }
    const out = vars.map((v) => v.dataSync() as Float32Array);
    opt.dispose();
    tf.dispose(vars);
    return out;
  }

  it('matches tf.train.adam on the cpu backend and Adam in float64 (rel. error ≤ 1e-5)', async () => {
    await useBackend('cpu');
    const cpu = await train((lr) => tf.train.adam(lr));
    const eps = tf.backend().epsilon();
    await useBackend('wasm');
    expect(tf.backend().epsilon()).toBe(eps);
    const fused = await train((lr) => new FusedAdam(lr));
    sizes.forEach((_, k) => {
      expect(relError(fused[k], cpu[k])).toBeLessThan(1e-5);
      expect(relError(fused[k], adamReference(starts[k], grads[k], 0.01, eps))).toBeLessThan(1e-5);
    });
  });

  it('runs one kernel per variable on wasm, is bit-for-bit repeatable and leaks no tensor', async () => {
    await useBackend('wasm');
    const before = tf.memory().numTensors;
    const a = await train((lr) => new FusedAdam(lr));
    const b = await train((lr) => new FusedAdam(lr));
    expect(tf.memory().numTensors).toBe(before);
    sizes.forEach((_, k) => expect(Buffer.from(a[k].buffer).equals(Buffer.from(b[k].buffer))).toBe(true));
    const v = tf.variable(tf.ones([10]), true, `adam_profile_${Math.random()}`);
    const opt = new FusedAdam(0.1);
    const g = tf.ones([10]);
    const info = await tf.profile(() => opt.applyGradients([{ name: v.name, tensor: g }]));
    expect(info.kernels.filter((k) => k.name === 'ConvlensAdam')).toHaveLength(1);
    expect(info.kernels.filter((k) => k.name === 'Sqrt')).toHaveLength(0);
    tf.dispose([v, g]);
    opt.dispose();
  });
});
