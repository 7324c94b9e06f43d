import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { vgg } from '../../src/models/vgg.ts';
import { useBackend } from '../helpers/backends.ts';

beforeAll(async () => {
  await useBackend('wasm');
});

describe('VGG', () => {
  it.each([
    [16, 138_357_544, 'block5_conv3'],
    [19, 143_667_240, 'block5_conv4'],
  ] as const)('VGG%i at 224 with top has Keras parameter count %i and names', (depth, params, lastConv) => {
    const before = tf.memory().numTensors;
    const model = vgg({ depth });
    expect(model.countParams()).toBe(params);
    const names = model.layers.map((l) => l.name);
    expect(names.slice(0, 3)).toEqual(['block1_conv1', 'block1_conv2', 'block1_pool']);
    expect(names).toContain(lastConv);
    expect(names.slice(-4)).toEqual(['flatten', 'fc1', 'fc2', 'predictions']);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('without the top ends at block5_pool (the fine-tuning base)', () => {
    const model = vgg({ depth: 16, inputShape: [64, 64, 3], includeTop: false });
    expect(model.layers.at(-1)!.name).toBe('block5_pool');
    expect(model.outputs[0].shape).toEqual([null, 2, 2, 512]);
    // 14,714,688: Keras's VGG16(include_top=False) at any input size.
    expect(model.countParams()).toBe(14_714_688);
    model.dispose();
  });
});
