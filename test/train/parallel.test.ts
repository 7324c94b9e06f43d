/**
 * Data-parallel training (src/train/parallel.ts): replicas in worker threads against a reference computed in this
 * thread another way — each shard's gradient by tf.variableGrads from the same weights, summed in float32 in
 * replica order, one Adam step, moving statistics averaged — and against plain one-thread training for a model
 * without batch norm (the same gradient up to float rounding). Worker threads start a wasm engine each (~2 s).
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { type ImageArrays, makeBatch, mulberry32, seededPermutation } from '../../src/data/batches.ts';
import { adam } from '../../src/engine/adam.ts';
import { lenet5 } from '../../src/models/lenet5.ts';
import { categoricalCrossentropy, fit } from '../../src/train/fit.ts';
import { Replicas, replicaThreads } from '../../src/train/parallel.ts';
import { TrainingConfig } from '../../src/config/schema.ts';
import { relError, useBackend } from '../helpers/backends.ts';

function randomData(n: number, side: number, channels: number, classes: number, seed: number): ImageArrays {
  const rand = mulberry32(seed);
  const images = Uint8Array.from({ length: n * side * side * channels }, () => Math.floor(rand() * 256));
  const labels = Uint8Array.from({ length: n }, (_, i) => i % classes);
  return { images, labels, count: n, shape: [side, side, channels], numClasses: classes };
}

/** conv → BN → ReLU → pool → conv → BN → ReLU → GAP → dense softmax with an L2 penalty (counted once, not per replica). */
function bnModel(seed: number): tf.LayersModel {
  const m = tf.sequential({ name: 'bn_model' });
  m.add(tf.layers.conv2d({ name: 'c1', inputShape: [12, 12, 3], filters: 4, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: tf.initializers.glorotUniform({ seed }) }));
  m.add(tf.layers.batchNormalization({ name: 'bn1', momentum: 0.9 }));
  m.add(tf.layers.reLU({ name: 'r1' }));
  m.add(tf.layers.maxPooling2d({ name: 'p1', poolSize: 2 }));
  m.add(tf.layers.conv2d({ name: 'c2', filters: 8, kernelSize: 3, padding: 'same', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }));
  m.add(tf.layers.batchNormalization({ name: 'bn2', momentum: 0.9 }));
  m.add(tf.layers.reLU({ name: 'r2' }));
  m.add(tf.layers.globalAveragePooling2d({ name: 'gap' }));
  m.add(tf.layers.dense({ name: 'out', units: 3, activation: 'softmax', kernelRegularizer: tf.regularizers.l2({ l2: 0.05 }), kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 2 }) }));
  return m;
}

const weightsOf = (m: tf.LayersModel) => m.weights.map((w) => Float32Array.from(w.read().dataSync() as Float32Array));

/**
 * `steps` steps of R-replica training done here by hand: for every shard, the weights reset to the step's start,
 * the gradient of (shard's mean loss) · n_k / n (+ the penalty on the last shard) and the moving statistics after
 * the shard's forward pass; gradients summed in float32 in shard order, Adam, moving statistics averaged.
 */
function referenceTraining(model: tf.LayersModel, data: ImageArrays, o: { batchSize: number; seed: number; steps: number; replicas: number }): void {
  const optimizer = adam(1e-3);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const fixed = model.nonTrainableWeights;
  const order = seededPermutation(data.count, o.seed * 7919);
  for (let step = 0; step < o.steps; step++) {
    const idx = order.subarray(step * o.batchSize, (step + 1) * o.batchSize);
    const { x, y } = makeBatch(data, idx);
    const n = idx.length;
    const start = model.weights.map((w) => w.read().clone());
    const sums = vars.map((v) => new Float32Array(v.size));
    const moved: Float32Array[][] = [];
    for (let k = 0; k < o.replicas; k++) {
      model.weights.forEach((w, i) => w.write(start[i].clone()));
      const s0 = Math.floor((k * n) / o.replicas);
      const s1 = Math.floor(((k + 1) * n) / o.replicas);
      if (s1 === s0) continue; // a batch smaller than the replica count: this one has no images
      tf.tidy(() => {
        const xs = x.slice(s0, s1 - s0);
        const ys = y.slice(s0, s1 - s0);
        const { grads } = tf.variableGrads(() => {
          const share = tf.mul(categoricalCrossentropy(ys, model.apply(xs, { training: true }) as tf.Tensor), (s1 - s0) / n) as tf.Scalar;
          const reg = k === o.replicas - 1 ? model.calculateLosses() : [];
          return reg.length ? (tf.addN([share, ...reg]) as tf.Scalar) : share;
        }, vars);
        vars.forEach((v, i) => {
          const g = grads[v.name].dataSync();
          for (let j = 0; j < g.length; j++) sums[i][j] += g[j];
        });
      });
      moved.push(fixed.map((w) => Float32Array.from(w.read().dataSync() as Float32Array)));
    }
    model.weights.forEach((w, i) => w.write(start[i]));
    const grads: tf.NamedTensorMap = Object.fromEntries(vars.map((v, i) => [v.name, tf.tensor(sums[i], v.shape)]));
    optimizer.applyGradients(grads as never);
    tf.dispose(Object.values(grads));
    fixed.forEach((w, j) => {
      const old = w.read().dataSync();
      const next = old.map((a, e) => {
        let delta = 0;
        for (const m of moved) delta += m[j][e] - a;
        return a + delta / moved.length;
      });
      tf.tidy(() => {
        w.write(tf.tensor(next, w.shape as number[]));
      });
    });
    tf.dispose([x, y]);
  }
  optimizer.dispose();
}

beforeAll(async () => {
  await useBackend('wasm');
});

describe('data-parallel training in worker threads', () => {
  const data = randomData(64, 12, 3, 3, 7);
  let first: Float32Array[] = [];

  it('matches the shard-by-shard reference: batch norm per shard, moving statistics averaged, the penalty once', () => {
    const model = bnModel(1);
    const reference = bnModel(1);
    const tensorsBefore = tf.memory().numTensors;
    const history = fit(model, data, { epochs: 1, batchSize: 16, seed: 3, maxImages: 48, workers: 2 });
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    referenceTraining(reference, data, { batchSize: 16, seed: 3, steps: 3, replicas: 2 });
    const got = weightsOf(model);
    const want = weightsOf(reference);
    const initial = weightsOf(bnModel(1));
    got.forEach((g, i) => {
      expect(relError(g, want[i]), model.weights[i].name).toBeLessThan(1e-5);
      // and training moved every weight (the moving statistics too), so the comparison is not of initial values
      expect(relError(want[i], initial[i]), model.weights[i].name).toBeGreaterThan(1e-4);
    });
    expect(history[0].loss).toBeGreaterThan(0);
    first = got;
    model.dispose();
    reference.dispose();
  }, 60_000);

  it('handles a last batch smaller than the replica count (one image: one replica idle, its statistics left out)', () => {
    const odd = randomData(49, 12, 3, 3, 8); // batches of 16, 16, 16 and 1
    const model = bnModel(2);
    const reference = bnModel(2);
    fit(model, odd, { epochs: 1, batchSize: 16, seed: 4, workers: 2 });
    referenceTraining(reference, odd, { batchSize: 16, seed: 4, steps: 4, replicas: 2 });
    const want = weightsOf(reference);
    weightsOf(model).forEach((g, i) => expect(relError(g, want[i]), model.weights[i].name).toBeLessThan(1e-5));
    model.dispose();
    reference.dispose();
  }, 60_000);

  it('is deterministic: the same replicas, seed and data give the same weights, bit for bit', () => {
    const model = bnModel(1);
    fit(model, data, { epochs: 1, batchSize: 16, seed: 3, maxImages: 48, workers: 2 });
    weightsOf(model).forEach((w, i) => expect(Buffer.from(w.buffer).equals(Buffer.from(first[i].buffer)), model.weights[i].name).toBe(true));
    model.dispose();
  }, 60_000);

  it('gives the same bits with two engine threads in each replica (the 4-core layout: 2 replicas × 2 threads)', () => {
    const model = bnModel(1);
    fit(model, data, { epochs: 1, batchSize: 16, seed: 3, maxImages: 48, workers: 2, workerThreads: 2 });
    weightsOf(model).forEach((w, i) => expect(Buffer.from(w.buffer).equals(Buffer.from(first[i].buffer)), model.weights[i].name).toBe(true));
    model.dispose();
  }, 60_000);

  it('gives a model without batch norm the same training as one thread (sums of shard gradients = the batch gradient)', () => {
    const digits = randomData(96, 28, 1, 10, 9);
    const one = lenet5({ seed: 4 });
    const two = lenet5({ seed: 4 });
    const h1 = fit(one, digits, { epochs: 2, batchSize: 32, seed: 5 });
    const h2 = fit(two, digits, { epochs: 2, batchSize: 32, seed: 5, workers: 2 });
    const a = weightsOf(one);
    weightsOf(two).forEach((w, i) => expect(relError(w, a[i]), two.weights[i].name).toBeLessThan(1e-4));
    h1.forEach((e, i) => {
      expect(h2[i].loss).toBeCloseTo(e.loss, 4);
      expect(h2[i].acc).toBe(e.acc);
    });
    one.dispose();
    two.dispose();
  }, 60_000);

  it('trains a frozen base\'s top in the replicas (features computed there, outside the tape)', () => {
    const build = () => {
      const m = lenet5({ seed: 6 });
      for (const l of m.layers.slice(0, 4)) l.trainable = false;
      return m;
    };
    const digits = randomData(64, 28, 1, 10, 10);
    const one = build();
    const two = build();
    const frozenBefore = one.layers[0].getWeights()[0].dataSync().slice();
    fit(one, digits, { epochs: 1, batchSize: 32, seed: 2 });
    fit(two, digits, { epochs: 1, batchSize: 32, seed: 2, workers: 2 });
    const a = weightsOf(one);
    weightsOf(two).forEach((w, i) => expect(relError(w, a[i]), two.weights[i].name).toBeLessThan(1e-4));
    expect(Array.from(two.layers[0].getWeights()[0].dataSync())).toEqual(Array.from(frozenBefore));
    one.dispose();
    two.dispose();
  }, 60_000);

  it('falls back to this thread, saying why, when a replica cannot rebuild the model', () => {
    class Doubler extends tf.layers.Layer {
      static className = 'ConvlensTestDoubler';
      override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
        return tf.mul(Array.isArray(inputs) ? inputs[0] : inputs, 2);
      }
    }
    tf.serialization.registerClass(Doubler); // registered here only: the worker threads do not know it
    const m = tf.sequential({ name: 'custom' });
    m.add(tf.layers.flatten({ inputShape: [4, 4, 1] }));
    m.add(new Doubler({ name: 'doubler' }));
    m.add(tf.layers.dense({ units: 2, activation: 'softmax' }));
    const notes: string[] = [];
    const history = fit(m, randomData(32, 4, 1, 2, 3), { epochs: 1, batchSize: 16, seed: 1, workers: 2, log: (l) => notes.push(l) });
    expect(history).toHaveLength(1);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(/custom: training in this thread alone — training replica \d of 2: .*ConvlensTestDoubler/);
    // Asked for by a setting whose result is keyed by the replica count: an error naming the cause and the fix,
    // with nothing trained.
    const before = m.getWeights().map((w) => Array.from(w.dataSync()));
    expect(() => fit(m, randomData(32, 4, 1, 2, 3), { epochs: 1, batchSize: 16, seed: 1, workers: 2, workersRequired: 'set training.replicas to 1' }))
      .toThrow(/^custom: training replica \d of 2: [^]*ConvlensTestDoubler[^]*; set training.replicas to 1$/);
    expect(m.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(before);
    m.dispose();
  }, 60_000);
});

describe('replicas that cannot start', () => {
  it('report at once, with the reason, when the worker cannot load (no waiting for the start timeout)', () => {
    // The real entry script, copied where neither tsx nor its './replica.ts' can be found.
    const dir = mkdtempSync(join(tmpdir(), 'convlens-replica-'));
    copyFileSync(new URL('../../src/train/replica-worker.mjs', import.meta.url), join(dir, 'replica-worker.mjs'));
    const model = lenet5({ seed: 1 });
    const t0 = performance.now();
    expect(() => Replicas.start(model, { replicas: 2, batchSize: 32, inputShape: [28, 28, 1], numClasses: 10, frozenNorm: false, entry: pathToFileURL(join(dir, 'replica-worker.mjs')) }))
      .toThrow(/training replica \d of 2: could not start: Cannot find package 'tsx'/);
    expect(performance.now() - t0).toBeLessThan(30_000);
    model.dispose();
    rmSync(dir, { recursive: true });
  }, 60_000);
});

describe('replicas as a setting of the training', () => {
  it('each replica gets its share of the process\'s cores, at least one thread', () => {
    expect(replicaThreads(2, { CONVLENS_THREADS: '2' })).toBe(1);
    expect(replicaThreads(2, { CONVLENS_THREADS: '4' })).toBe(2);
    expect(replicaThreads(4, { CONVLENS_THREADS: '2' })).toBe(1);
    expect(replicaThreads(1, { CONVLENS_THREADS: '4' })).toBe(4);
    expect(replicaThreads(2, {})).toBe(1);
  });
  it('a config sets them per model (never the machine), at most one per image of a batch', () => {
    expect(TrainingConfig.parse({ replicas: 2 }).replicas).toBe(2);
    expect(TrainingConfig.parse({}).replicas).toBeUndefined();
    expect(() => TrainingConfig.parse({ batchSize: 8, replicas: 16 })).toThrow(/replicas must not exceed batchSize/);
    expect(() => TrainingConfig.parse({ replicas: 0 })).toThrow();
  });
});
