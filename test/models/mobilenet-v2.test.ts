import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeDivisible, mobileNetV2 } from '../../src/models/mobilenet-v2.ts';
import { useBackend } from '../helpers/backends.ts';

beforeAll(async () => {
  await useBackend('wasm');
});

describe('MobileNetV2', () => {
  it('has Keras parameter count 3,538,984 at 224 with the ImageNet top (alpha 1.0)', () => {
    const model = mobileNetV2();
    expect(model.countParams()).toBe(3_538_984);
    model.dispose();
  });

  it('uses Keras layer names', () => {
    const model = mobileNetV2({ inputShape: [64, 64, 3], alpha: 0.35, numClasses: 4 });
    const names = model.layers.map((l) => l.name);
    expect(names.slice(0, 8)).toEqual([
      'input_1', 'Conv1', 'bn_Conv1', 'Conv1_relu', 'expanded_conv_depthwise', 'expanded_conv_depthwise_BN',
      'expanded_conv_depthwise_relu', 'expanded_conv_project',
    ]);
    for (const n of ['block_1_expand', 'block_1_pad', 'block_1_depthwise', 'block_2_add', 'block_16_project_BN', 'Conv_1', 'out_relu', 'predictions']) {
      expect(names).toContain(n);
    }
    // Residual adds exactly where input and output channels agree at stride 1 (Keras: blocks 2,4,5,7,8,9,11,12,14,15).
    expect(names.filter((n) => n.endsWith('_add'))).toEqual(
      [2, 4, 5, 7, 8, 9, 11, 12, 14, 15].map((i) => `block_${i}_add`),
    );
    expect(model.outputs[0].shape).toEqual([null, 4]);
    model.dispose();
  });

  it('rounds channels like Keras _make_divisible', () => {
    expect([makeDivisible(32 * 0.35), makeDivisible(16 * 0.35), makeDivisible(24 * 0.35), makeDivisible(320 * 0.35)]).toEqual([16, 8, 8, 112]);
  });

  it('builds the transfer-learning head and predicts a distribution', () => {
    const model = mobileNetV2({ inputShape: [64, 64, 3], alpha: 0.35, numClasses: 5, head: 'transfer' });
    const p = tf.tidy(() => Array.from((model.predict(tf.zeros([2, 64, 64, 3])) as tf.Tensor).sum(-1).dataSync()));
    p.forEach((s) => expect(s).toBeCloseTo(1, 5));
    expect(model.layers.map((l) => l.name).slice(-9)).toEqual([
      'global_average_pooling2d', 'head_bn_1', 'head_dropout', 'head_dense', 'head_bn_2', 'head_relu', 'logits', 'head_bn_3', 'predictions',
    ]);
    model.dispose();
  });
});
