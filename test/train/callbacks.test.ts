import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/data/batches.ts';
import { lenet5 } from '../../src/models/lenet5.ts';
import {
  bestCheckpoint, cosineDecay, earlyStopping, freezeUntil, learningRateSchedule, stepDecay,
} from '../../src/train/callbacks.ts';
import { type EpochLogs, fit, frozenPrefix, type TrainContext } from '../../src/train/fit.ts';
import { useBackend } from '../helpers/backends.ts';

const logs = (val_loss: number, val_acc = 0): EpochLogs => ({ loss: 1, acc: 0, val_loss, val_acc, lr: 1e-3, seconds: 1, imagesPerSecond: 1 });

function toy(n: number, seed: number) {
  const rand = mulberry32(seed);
  const images = new Uint8Array(n * 28 * 28);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 2;
    for (let p = 0; p < 784; p++) images[i * 784 + p] = ((p % 28 < 14) === (labels[i] === 0) ? 150 : 30) + Math.floor(rand() * 80);
  }
  return { images, labels, count: n, shape: [28, 28, 1] as [number, number, number], numClasses: 10 };
}

beforeAll(async () => {
  await useBackend('wasm');
});

describe('callbacks', () => {
  it('early stopping waits `patience` epochs without improvement', () => {
    const cb = earlyStopping({ monitor: 'val_loss', patience: 2 });
    const ctx = { stop: false } as TrainContext;
    const seq = [1.0, 0.8, 0.85, 0.79, 0.8, 0.81, 0.5];
    let epoch = 0;
    for (; epoch < seq.length && !ctx.stop; epoch++) cb.onEpochEnd!(epoch, logs(seq[epoch]), ctx);
    expect(cb.stoppedEpoch).toBe(5); // best 0.79 at epoch 3; epochs 4 and 5 do not improve
    expect(epoch).toBe(6);
  });

  it('early stopping on an accuracy wants it to rise', () => {
    const cb = earlyStopping({ monitor: 'val_acc', patience: 1 });
    const ctx = { stop: false } as TrainContext;
    cb.onEpochEnd!(0, logs(0, 0.5), ctx);
    cb.onEpochEnd!(1, logs(0, 0.6), ctx);
    expect(ctx.stop).toBe(false);
    cb.onEpochEnd!(2, logs(0, 0.6), ctx);
    expect(ctx.stop).toBe(true);
  });

  it('a missing monitored metric is a clear error', () => {
    const cb = earlyStopping({ monitor: 'val_acc' });
    const noVal = { loss: 1, acc: 0, lr: 1, seconds: 1, imagesPerSecond: 1 };
    expect(() => cb.onEpochEnd!(0, noVal, { stop: false } as TrainContext)).toThrow(/monitors 'val_acc'.*no validation data/);
  });

  it('schedules: step and cosine decay by hand', () => {
    expect([0, 1, 2, 3, 4].map((e) => stepDecay(0.5, 2)(e, 0.1))).toEqual([0.1, 0.1, 0.05, 0.05, 0.025]);
    expect(cosineDecay(4)(0, 1)).toBeCloseTo(1, 12);
    expect(cosineDecay(4)(2, 1)).toBeCloseTo(0.5, 12);
    expect(cosineDecay(4, 0.1)(4, 1)).toBeCloseTo(0.1, 12);
  });

  it('fit applies the schedule, keeps the best epoch and frees the copies', () => {
    const before = tf.memory().numTensors;
    const model = lenet5({ seed: 8 });
    const best = bestCheckpoint({ monitor: 'val_acc' });
    const snapshots: number[][] = [];
    const history = fit(model, toy(96, 1), {
      epochs: 4, batchSize: 32, seed: 3, learningRate: 0.01, validation: toy(64, 2),
      callbacks: [
        learningRateSchedule(stepDecay(0.1, 2)),
        best,
        { onEpochEnd: (_e, _l, ctx) => snapshots.push(Array.from(ctx.model.getWeights()[0].dataSync())) },
      ],
    });
    expect(history.map((h) => h.lr)).toEqual([0.01, 0.01, 0.001, 0.001].map((v) => expect.closeTo(v, 12)));
    const bestAcc = Math.max(...history.map((h) => h.val_acc!));
    expect(best.bestValue).toBe(bestAcc);
    expect(best.bestEpoch).toBe(history.findIndex((h) => h.val_acc === bestAcc));
    // After training the model holds the best epoch's weights.
    expect(Array.from(model.getWeights()[0].dataSync())).toEqual(snapshots[best.bestEpoch!]);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('trains every trainable layer of a Sequential model, its first one too', () => {
    // A Sequential model's layers start with its first real layer (no InputLayer): LeNet-5's conv2d, followed by
    // weightless pooling, once counted as a frozen base and never trained.
    const model = lenet5({ seed: 10 });
    expect(frozenPrefix(model)).toBeUndefined();
    const before = model.trainableWeights.map((w) => Array.from(w.read().dataSync()));
    fit(model, toy(64, 4), { epochs: 1, batchSize: 32, seed: 1 });
    model.trainableWeights.forEach((w, i) => expect(Array.from(w.read().dataSync()), w.name).not.toEqual(before[i]));
    // A frozen first block is still a base: the cut is its last layer.
    for (const l of model.layers.slice(0, 4)) l.trainable = false;
    expect(frozenPrefix(model)).toBe('flatten'); // the last weightless layer before dense
    model.dispose();
  });

  it('frozen layers do not change (fine-tuning)', () => {
    const model = lenet5({ seed: 9 });
    freezeUntil(model, 'dense');
    const frozen = model.getLayer('conv2d').getWeights().map((w) => Array.from(w.dataSync()));
    const trained = Array.from(model.getLayer('dense').getWeights()[0].dataSync());
    fit(model, toy(64, 3), { epochs: 1, batchSize: 32, seed: 1 });
    expect(model.getLayer('conv2d').getWeights().map((w) => Array.from(w.dataSync()))).toEqual(frozen);
    expect(Array.from(model.getLayer('dense').getWeights()[0].dataSync())).not.toEqual(trained);
    expect(() => freezeUntil(model, 'nope')).toThrow(/no layer named 'nope'/);
    model.dispose();
  });
});
