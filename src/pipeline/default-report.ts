/**
 * The default report (what `npm run report` builds with no config): real data and no downloads.
 * - LeNet-5 trained on Fashion-MNIST (seed 002).
 * - Seed 003's 4-layer CNN with its random initial weights, on the synthetic shapes: what untrained filters see.
 * MobileNetV2 (alpha 0.35, 64x64) on shapes (seed 000) is available with `--only mobilenetv2-shapes` but not in
 * the default yet: it trains at ~45 images/s on this engine, ~25 minutes to ≥ 0.95 validation accuracy.
 */
import { fashionMnist, splitDataset } from '../data/dataset.ts';
import { generateShapes } from '../data/shapes.ts';
import { lenet5 } from '../models/lenet5.ts';
import { mobileNetV2 } from '../models/mobilenet-v2.ts';
import { randomCnn } from '../models/random-cnn.ts';
import type { ModelSpec } from './model-report.ts';
import type { SpecEntry } from './shards.ts';

export interface DefaultOptions {
  epochs: number;
  seed: number;
  dataDir?: string;
}

export function defaultEntries(o: DefaultOptions): SpecEntry[] {
  const entries: SpecEntry[] = [
    { slug: 'lenet5-fashion-mnist', cost: 100, inDefault: true, make: (): ModelSpec => {
      const full = fashionMnist('train', o.dataDir);
      const { train, validation } = splitDataset(full, 5000, o.seed);
      return {
        slug: 'lenet5-fashion-mnist',
        title: 'LeNet-5 on Fashion-MNIST',
        architecture: 'LeNet-5 (Keras layout)',
        description: 'The classic LeNet-5 layout (two 5x5 convolutions with max pooling, three dense layers) trained from scratch on Fashion-MNIST\'s 28x28 grayscale clothing images.',
        identity: { zoo: 'lenet5', inputShape: [28, 28, 1], numClasses: 10 },
        build: () => lenet5({ seed: o.seed }),
        training: { train, validation, epochs: o.epochs, batchSize: 32, learningRate: 1e-3 },
        test: fashionMnist('test', o.dataDir),
        classifier: true,
        seed: o.seed,
      };
    } },
    { slug: 'random-cnn-shapes', cost: 15, inDefault: true, make: (): ModelSpec => ({
      slug: 'random-cnn-shapes',
      title: 'Random 4-layer CNN on shapes',
      architecture: 'Seed 003: four 9-filter 3x3 convolutions, max pooling 4, 3, 2 — untrained',
      description: 'Seed 003\'s small CNN with its random initial weights, looking at the synthetic shapes. No training: its feature maps show what random filters already respond to (edges, colour blobs) and how pooling makes deeper maps coarse and abstract.',
      identity: { zoo: 'random-cnn', inputShape: [64, 64, 3] },
      build: () => randomCnn({ inputShape: [64, 64, 3], seed: o.seed }),
      test: generateShapes({ count: 50, seed: 1003, size: 64 }),
      classifier: false,
      seed: o.seed,
      actmax: { maxChannels: 9, steps: 48 },
    }) },
    { slug: 'mobilenetv2-shapes', cost: 2000, inDefault: false, make: (): ModelSpec => ({
      slug: 'mobilenetv2-shapes',
      title: 'MobileNetV2 (α 0.35) on shapes',
      architecture: 'MobileNetV2, width 0.35, 64x64 input, Keras layer names',
      description: 'MobileNetV2 at width 0.35 trained from scratch on 6,000 synthetic shapes (circle, square, triangle, star, hexagon on textured or cluttered backgrounds). The shapes\' ground-truth masks score where each explanation points.',
      identity: { zoo: 'mobilenetv2', alpha: 0.35, inputShape: [64, 64, 3], head: 'imagenet', bnMomentum: 0.9, numClasses: 5 },
      build: () => mobileNetV2({ inputShape: [64, 64, 3], alpha: 0.35, numClasses: 5, head: 'imagenet', bnMomentum: 0.9, seed: o.seed }),
      training: {
        train: generateShapes({ count: 6000, seed: 1 }),
        validation: generateShapes({ count: 500, seed: 2 }),
        epochs: Math.max(o.epochs, 14), batchSize: 32, learningRate: 2e-3, cosine: true,
      },
      test: generateShapes({ count: 500, seed: 3 }),
      classifier: true,
      seed: o.seed,
      actmax: { maxChannels: 8, steps: 48 },
    }) },
  ];
  return entries;
}
