import { beforeAll, describe, expect, it } from 'vitest';
import { buildZooModel } from '../../src/models/zoo.ts';
import { useBackend } from '../helpers/backends.ts';

beforeAll(async () => {
  await useBackend('wasm');
});

describe('model zoo', () => {
  it.each([
    // conv 32·(25+1) + conv 64·(25·32+1) + (7·7·64+1)·1024 + (1024+1)·256 + (256+1)·50 + (50+1)·10
    ['mnist-cnn', [28, 28, 1], 10, 832 + 51_264 + 3_212_288 + 262_400 + 12_850 + 510],
    // conv 10·(27+1) + 3 × 10·(90+1) + (13·13·10+1)·10
    ['tiny-vgg', [64, 64, 3], 10, 280 + 3 * 910 + 16_910],
    // no conv biases, batch norm 4 per channel: 27·8 + 32 + 72·16 + 64 + 144·32 + 128 + 288·64 + 256 + 3 × (576·64 + 256) + 64·5 + 5
    ['gap-cnn', [64, 64, 3], 5, 216 + 32 + 1152 + 64 + 4608 + 128 + 18_432 + 256 + 3 * (36_864 + 256) + 325],
    // 9·(27+1) + 3 × 9·(81+1)
    ['random-cnn', [96, 96, 3], 0, 252 + 3 * 738],
  ] as const)('%s has the hand-counted parameters', (name, inputShape, numClasses, params) => {
    const m = buildZooModel(name, { inputShape: [...inputShape] as [number, number, number], numClasses, seed: 1 });
    expect(m.countParams()).toBe(params);
    m.dispose();
  });

  it("TinyVGG uses CNN Explainer's names; the random CNN pools by 4, 3, 2", () => {
    const t = buildZooModel('tiny-vgg', { inputShape: [64, 64, 3], numClasses: 10, seed: 1 });
    expect(t.layers.map((l) => l.name)).toEqual([
      'conv_1_1', 'relu_1_1', 'conv_1_2', 'relu_1_2', 'max_pool_1', 'conv_2_1', 'relu_2_1', 'conv_2_2', 'relu_2_2', 'max_pool_2', 'flatten', 'output',
    ]);
    const r = buildZooModel('random-cnn', { inputShape: [96, 96, 3], numClasses: 0, seed: 1 });
    expect(r.layers.filter((l) => l.name.startsWith('conv')).map((l) => (l.outputShape as number[])[1])).toEqual([96, 24, 8, 4]);
    t.dispose();
    r.dispose();
  });

  it("the GAP CNN: 'same' blocks, batch norm and ReLU per conv, pooling between blocks, an 8x8 last block on 64x64", () => {
    const g = buildZooModel('gap-cnn', { inputShape: [64, 64, 3], numClasses: 5, seed: 1 });
    expect(g.layers.map((l) => l.name).slice(0, 9)).toEqual(['conv_1', 'bn_1', 'relu_1', 'pool_1', 'conv_2', 'bn_2', 'relu_2', 'pool_2', 'conv_3']);
    expect(g.layers.map((l) => l.name).slice(-5)).toEqual(['conv_4_4', 'bn_4_4', 'relu_4_4', 'gap', 'output']);
    expect(g.getLayer('relu_4_4').outputShape).toEqual([null, 8, 8, 64]);
    const small = buildZooModel('gap-cnn', { inputShape: [32, 32, 3], numClasses: 3, seed: 1, extra: { blocks: [[4], [8, 8]] } });
    expect(small.layers.map((l) => l.name)).toEqual(['conv_1', 'bn_1', 'relu_1', 'pool_1', 'conv_2_1', 'bn_2_1', 'relu_2_1', 'conv_2_2', 'bn_2_2', 'relu_2_2', 'gap', 'output']);
    expect(() => buildZooModel('gap-cnn', { inputShape: [32, 32, 3], numClasses: 3, seed: 1, extra: { blocks: [[4], []] } })).toThrow(/gap-cnn: blocks must be non-empty lists of positive filter counts, got \[\[4\],\[\]\]/);
    g.dispose();
    small.dispose();
  });

  it('one seed builds bitwise-equal weights; another does not', () => {
    const w = (seed: number) => {
      const m = buildZooModel('tiny-vgg', { inputShape: [64, 64, 3], numClasses: 4, seed });
      const v = m.getWeights().map((t) => Array.from(t.dataSync()));
      m.dispose();
      return v;
    };
    expect(w(3)).toEqual(w(3));
    expect(w(3)).not.toEqual(w(4));
  });

  it('unknown architectures are named with the list', () => {
    expect(() => buildZooModel('resnet50', { inputShape: [8, 8, 3], numClasses: 2, seed: 0 })).toThrow(/unknown architecture 'resnet50'; the zoo has lenet5, mnist-cnn/);
  });
});
