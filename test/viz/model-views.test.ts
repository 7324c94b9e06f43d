import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { lenet5 } from '../../src/models/lenet5.ts';
import { mobileNetV2 } from '../../src/models/mobilenet-v2.ts';
import { vgg } from '../../src/models/vgg.ts';
import { allActivations, channelStats } from '../../src/viz/activations.ts';
import { evaluateProbabilities } from '../../src/viz/evaluation.ts';
import { receptiveFields } from '../../src/viz/receptive-field.ts';
import { useBackend } from '../helpers/backends.ts';

beforeAll(async () => {
  await useBackend('wasm');
});

describe('receptive fields', () => {
  it('LeNet-5 by hand: 5 → 6 → 14 → 16 pixels, jumps 1, 2, 2, 4', () => {
    const f = receptiveFields(lenet5());
    const row = (n: string) => [f.get(n)!.rf[0], f.get(n)!.jump[0], f.get(n)!.start[0]];
    expect(row('conv2d')).toEqual([5, 1, 2.5]); // first unit centred on pixel 2 (its centre at 2.5)
    expect(row('max_pooling2d')).toEqual([6, 2, 3]);
    expect(row('conv2d_1')).toEqual([14, 2, 7]);
    expect(row('max_pooling2d_1')).toEqual([16, 4, 8]);
    expect(f.get('dense')!.global).toBe(true);
  });

  it("VGG16's block5_conv3 sees 196 pixels with a jump of 16 (published value)", () => {
    const m = vgg({ depth: 16, inputShape: [64, 64, 3], includeTop: false });
    const f = receptiveFields(m);
    expect([f.get('block5_conv3')!.rf[0], f.get('block5_conv3')!.jump[0]]).toEqual([196, 16]);
    expect([f.get('block1_conv1')!.rf[0], f.get('block1_conv1')!.start[0]]).toEqual([3, 0.5]); // 'same': centred on pixel 0
    m.dispose();
  });

  it('MobileNetV2: strided blocks double the jump to 32 at out_relu', () => {
    const m = mobileNetV2({ inputShape: [64, 64, 3], alpha: 0.35, head: 'none' });
    const f = receptiveFields(m);
    expect(f.get('out_relu')!.jump).toEqual([32, 32]);
    expect(f.get('Conv1')!.rf).toEqual([3, 3]);
    m.dispose();
  });
});

describe('evaluation', () => {
  it('accuracy, top-k, confusion, per-class and mistakes on a hand-made table', () => {
    // 4 samples, 3 classes. Predictions: 0 ✓, 1 → 2 ✗ (p .6), 2 ✓, 0 → 1 ✗ (p .5, true class ranked 2nd).
    const probs = Float32Array.from([0.7, 0.2, 0.1, 0.1, 0.3, 0.6, 0.2, 0.1, 0.7, 0.4, 0.5, 0.1]);
    const e = evaluateProbabilities(probs, [0, 1, 2, 0], 3, { topK: [1, 2] });
    expect(e.accuracy).toBe(0.5);
    expect(e.topK).toEqual({ '1': 0.5, '2': 1 });
    expect(e.confusion).toEqual([[1, 1, 0], [0, 0, 1], [0, 0, 1]]);
    expect(e.perClass[2]).toEqual({ precision: 0.5, recall: 1, f1: 2 / 3, support: 1 });
    expect(e.mistakes).toEqual([
      { true: 0, predicted: 1, samples: [{ index: 3, probability: Math.fround(0.5) }] },
      { true: 1, predicted: 2, samples: [{ index: 1, probability: Math.fround(0.6) }] },
    ]);
    expect(e.confusionNormalized[0]).toEqual([0.5, 0.5, 0]);
  });
});

describe('activations', () => {
  it('captures every layer in one pass; statistics flag dead channels', () => {
    const m = lenet5({ seed: 1 });
    const x = tf.randomUniform([3, 28, 28, 1], 0, 1, 'float32', 2) as tf.Tensor4D;
    const acts = allActivations(m, x);
    expect(Object.keys(acts)).toEqual(m.layers.map((l) => l.name));
    expect(acts.conv2d.shape).toEqual([3, 24, 24, 6]);
    const last = (m.predict(x) as tf.Tensor).dataSync();
    expect(Array.from(acts.dense_2.dataSync())).toEqual(Array.from(last));
    const s = channelStats(Float32Array.from([0, 1, 0, 0, 2, 0, 0, 3, 0]), 3);
    expect(s).toEqual({ mean: [0, 2, 0], max: [0, 3, 0], zeroFraction: [1, 0, 1], dead: [true, false, true] });
    tf.dispose(Object.values(acts));
  });
});

describe('activation maximization layers', () => {
  it('all, or maxLayers spread evenly with the first and the last', async () => {
    const { actmaxLayers } = await import('../../src/pipeline/plan.ts');
    const names = Array.from({ length: 10 }, (_, i) => `c${i}`);
    expect([...actmaxLayers(names)]).toEqual(names);
    expect([...actmaxLayers(names, 20)]).toEqual(names);
    expect([...actmaxLayers(names, 4)]).toEqual(['c0', 'c3', 'c6', 'c9']);
    expect([...actmaxLayers(names, 1)]).toEqual(['c9']);
    expect([...actmaxLayers(names, 0)]).toEqual([]);
  });
});
