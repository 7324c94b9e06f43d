import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { augmenter, sampleParams, transformRow } from '../../src/data/augment.ts';
import { relError, useBackend } from '../helpers/backends.ts';

beforeAll(async () => {
  await useBackend('wasm');
});

const batch = () => tf.randomUniform([4, 9, 7, 3], 0, 1, 'float32', 2) as tf.Tensor4D;

describe('augmentation', () => {
  it('a flip-only transform mirrors left–right exactly', () => {
    const x = batch();
    const row = transformRow({ flip: true, angle: 0, scale: 1, tx: 0, ty: 0, contrast: 1 }, 9, 7);
    const y = tf.image.transform(x, tf.tensor2d([row, row, row, row]), 'bilinear', 'reflect');
    expect(relError(y.dataSync(), tf.reverse(x, 2).dataSync())).toBeLessThan(1e-6);
  });

  it('a quarter turn of a square image is a transpose and a flip', () => {
    const x = tf.randomUniform([1, 5, 5, 1], 0, 1, 'float32', 3) as tf.Tensor4D;
    const row = transformRow({ flip: false, angle: Math.PI / 2, scale: 1, tx: 0, ty: 0, contrast: 1 }, 5, 5);
    const y = tf.image.transform(x, tf.tensor2d([row]), 'nearest', 'constant');
    // Output (x, y) samples input (2 − (y − 2), x): rotating counter-clockwise in image coordinates.
    const expected = tf.reverse(tf.transpose(x, [0, 2, 1, 3]), 1);
    expect(relError(y.dataSync(), expected.dataSync())).toBeLessThan(1e-6);
  });

  it('no parameters → identity; contrast keeps each image-channel mean', () => {
    const x = batch();
    expect(Array.from(augmenter({ seed: 1 })(x, 0).dataSync())).toEqual(Array.from(x.dataSync()));
    const y = augmenter({ seed: 1, contrast: 0.5 })(x, 0);
    expect(relError(tf.mean(y, [1, 2]).dataSync(), tf.mean(x, [1, 2]).dataSync())).toBeLessThan(1e-5);
  });

  it('is seeded: same seed and step → same bytes; another step → different', () => {
    const x = batch();
    const aug = augmenter({ seed: 7, flip: true, rotation: 0.1, zoom: 0.2, translation: 0.1, contrast: 0.2 });
    const a = Array.from(aug(x, 3).dataSync());
    expect(Array.from(aug(x, 3).dataSync())).toEqual(a);
    expect(Array.from(aug(x, 4).dataSync())).not.toEqual(a);
    const p = sampleParams({ seed: 7, rotation: 0.1, zoom: 0.2 }, 3, 100, 9, 7);
    expect(Math.max(...p.map((q) => Math.abs(q.angle)))).toBeLessThanOrEqual(0.1 * 2 * Math.PI);
    expect(Math.min(...p.map((q) => q.scale))).toBeGreaterThanOrEqual(0.8);
  });

  it('leaks no tensors', () => {
    const x = batch();
    const before = tf.memory().numTensors;
    augmenter({ seed: 1, flip: true, rotation: 0.05, contrast: 0.1 })(x, 1).dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
