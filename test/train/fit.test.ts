import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { type ImageArrays, mulberry32, seededPermutation } from '../../src/data/batches.ts';
import { lenet5 } from '../../src/models/lenet5.ts';
import { categoricalCrossentropy, evaluate, fit } from '../../src/train/fit.ts';
import { useBackend } from '../helpers/backends.ts';

/** Two easy classes: bright left half vs bright right half, with noise. */
function toyData(n: number, seed: number): ImageArrays {
  const rand = mulberry32(seed);
  const images = new Uint8Array(n * 28 * 28);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 2;
    for (let y = 0; y < 28; y++) {
      for (let x = 0; x < 28; x++) {
        const bright = (x < 14) === (labels[i] === 0);
        images[(i * 28 + y) * 28 + x] = Math.floor((bright ? 160 : 40) + rand() * 60);
      }
    }
  }
  return { images, labels, count: n, shape: [28, 28, 1], numClasses: 10 };
}

beforeAll(async () => {
  await useBackend('wasm');
});

describe('training on wasm', () => {
  it('LeNet-5 on 28x28 has the Keras layout parameter count', () => {
    const m = lenet5();
    // conv 6·(5·5·1+1) + conv 16·(5·5·6+1) + dense (4·4·16+1)·120 + (120+1)·84 + (84+1)·10
    expect(m.countParams()).toBe(156 + 2416 + 30840 + 10164 + 850);
    m.dispose();
  });

  it('keeps the tensor count flat over a long run', () => {
    const model = lenet5({ seed: 3 });
    const counts: number[] = [];
    fit(model, toyData(256, 1), {
      epochs: 6, batchSize: 16, seed: 1,
      onBatch: (step) => {
        if (step >= 3) counts.push(tf.memory().numTensors);
      },
    });
    expect(counts.length).toBe(94); // 6 epochs × 16 steps, from step 3 on
    expect(new Set(counts).size).toBe(1);
    model.dispose();
  });

  it('learns (loss falls, accuracy rises) and the optimizer frees its state', () => {
    const before = tf.memory().numTensors;
    const model = lenet5({ seed: 4 });
    const data = toyData(512, 2);
    const history = fit(model, data, { epochs: 3, batchSize: 32, seed: 2, validation: toyData(128, 3) });
    expect(history[2].loss).toBeLessThan(history[0].loss);
    expect(history[2].val_acc).toBeGreaterThan(0.95);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('is deterministic: one seed gives bitwise-equal weights', () => {
    const run = () => {
      const model = lenet5({ seed: 5 });
      fit(model, toyData(128, 4), { epochs: 1, batchSize: 32, seed: 9 });
      const w = model.getWeights().map((t) => Array.from(t.dataSync()));
      model.dispose();
      return w;
    };
    expect(run()).toEqual(run());
  });

  it('cross-entropy matches a hand-worked value', () => {
    // −(ln 0.7 + ln 0.5) / 2
    const loss = tf.tidy(() => categoricalCrossentropy(tf.tensor2d([[1, 0], [0, 1]]), tf.tensor2d([[0.7, 0.3], [0.5, 0.5]])).dataSync()[0]);
    expect(loss).toBeCloseTo(-(Math.log(0.7) + Math.log(0.5)) / 2, 6);
  });

  it('evaluate agrees with a plain count', () => {
    const model = lenet5({ seed: 6 });
    const data = toyData(64, 5);
    const { acc } = evaluate(model, data, 10);
    const pred = tf.tidy(() => {
      const x = tf.tensor4d(Float32Array.from(data.images, (v) => v / 255), [64, 28, 28, 1]);
      return Array.from((model.predict(x) as tf.Tensor).argMax(-1).dataSync());
    });
    expect(acc).toBeCloseTo(pred.filter((p, i) => p === data.labels[i]).length / 64, 10);
    model.dispose();
  });

  it('seeded permutation is a permutation and repeatable', () => {
    const p = seededPermutation(1000, 42);
    expect([...p].sort((a, b) => a - b)).toEqual([...Array(1000).keys()]);
    expect([...seededPermutation(1000, 42)]).toEqual([...p]);
    expect([...seededPermutation(1000, 43)]).not.toEqual([...p]);
  });
});
