import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { vgg } from '../../src/models/vgg.ts';
import { generateShapes } from '../../src/data/shapes.ts';
import { modelReport } from '../../src/pipeline/model-report.ts';
import { layerSummaries } from '../../src/pipeline/visualize.ts';
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

  it('a summary-only VGG16 (224, with top) holds one copy of its 138M parameters and leaks nothing', async () => {
    const params = 138_357_544;
    const base = tf.memory().numBytes;
    const rss0 = process.memoryUsage().rss;
    const model = vgg({ depth: 16 });
    expect(tf.memory().numBytes - base).toBe(params * 4); // exactly one float32 copy
    const summary = layerSummaries(model);
    expect(summary.reduce((n, l) => n + l.params, 0)).toBe(params);
    expect(tf.memory().numBytes - base).toBe(params * 4); // summarising copied no weights
    // The process holds about one copy too (553 MB), not two.
    expect(process.memoryUsage().rss - rss0).toBeLessThan(1.6 * params * 4);
    model.dispose();
    // Through the report's summary-only path: the model is built, summarised and released.
    const tensors = tf.memory().numTensors;
    const report = await modelReport({
      slug: 'vgg16', title: 'VGG16', architecture: 'VGG16', description: '', identity: {}, build: () => vgg({ depth: 16 }),
      test: generateShapes({ count: 2, seed: 1, size: 32 }), classifier: true, seed: 1, summaryOnly: true,
    }, { backend: 'wasm', publicDir: '/nonexistent', noCache: true });
    expect(report.totalParams).toBe(params);
    expect(report.layers.at(-1)!.name).toBe('predictions');
    expect(report.samples).toEqual([]);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.memory().numBytes).toBe(base);
  }, 120_000);
});
