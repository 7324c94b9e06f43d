import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { lenet5 } from '../../src/models/lenet5.ts';
import { l2Penalty, maximize, totalVariation } from '../../src/viz/activation-maximization.ts';
import { useBackend } from '../helpers/backends.ts';

beforeAll(async () => {
  await useBackend('wasm');
});

describe('activation maximization', () => {
  it('drives a linear channel to the bounds its weights point at', () => {
    // 1x1 conv, filters +1 and −1: channel 0's mean is maximal at x = 1 everywhere, channel 1's at x = 0.
    const m = tf.sequential();
    m.add(tf.layers.conv2d({ name: 'c', inputShape: [4, 4, 1], filters: 2, kernelSize: 1, useBias: false }));
    m.getLayer('c').setWeights([tf.tensor4d([1, -1], [1, 1, 1, 2])]);
    const r = maximize(m, [{ kind: 'channel', layer: 'c', channel: 0 }, { kind: 'channel', layer: 'c', channel: 1 }], {
      steps: 12, stepSize: 0.1, range: [0, 1], regularizers: [], seed: 1,
    });
    const px = r.images.arraySync() as number[][][][];
    expect(px[0].flat(2).every((v) => v === 1)).toBe(true);
    expect(px[1].flat(2).every((v) => v === 0)).toBe(true);
    expect(r.values[0]).toBeCloseTo(1, 6);
    expect(r.values[1]).toBeCloseTo(0, 6);
  });

  it('total variation and L2 by hand', () => {
    const checker = tf.tensor4d([0, 1, 1, 0], [1, 2, 2, 1]);
    expect(totalVariation(1).penalty(checker).dataSync()[0]).toBe(4); // two vertical + two horizontal unit steps
    expect(l2Penalty(1, 0.5).penalty(checker).dataSync()[0]).toBe(1); // 4 · 0.25
  });

  it('raises a LeNet-5 class logit, deterministically, without leaking', () => {
    const m = lenet5({ seed: 2 });
    const before = tf.memory().numTensors;
    const run = () => maximize(m, [{ kind: 'class', index: 3 }, { kind: 'channel', layer: 'conv2d_1', channel: 5 }], {
      steps: 16, stepSize: 0.02, range: [0, 1], regularizers: [totalVariation(1e-3), l2Penalty(1e-3)], jitter: { pixels: 1 }, seed: 7,
    });
    const a = run();
    const start = maximize(m, [{ kind: 'class', index: 3 }, { kind: 'channel', layer: 'conv2d_1', channel: 5 }], {
      steps: 0, stepSize: 0.02, range: [0, 1], regularizers: [], seed: 7,
    });
    expect(a.values[0]).toBeGreaterThan(start.values[0]);
    expect(a.values[1]).toBeGreaterThan(start.values[1]);
    const b = run();
    expect(Array.from(b.images.dataSync())).toEqual(Array.from(a.images.dataSync()));
    tf.dispose([a.images, b.images, start.images]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
