/**
 * The default report (what `npm run report` builds with no config): real data and no downloads.
 * - LeNet-5 trained on Fashion-MNIST.
 * - A 4-layer CNN with its random initial weights, on the synthetic shapes: what untrained filters see.
 * - MobileNetV2 (alpha 0.35, 64x64, a transfer-learning head) on shapes, trained within the report's time budget: it
 *   trains at ~200–250 images/s on one core with this engine (fused batch norm, ReLU6 and Adam; SIMD convolution
 *   gradients), so the default gives it 30,000 images (5 epochs of 6,000: ~2¼ minutes on its own core; 97.6 % test
 *   accuracy measured — 6 epochs reached 100 % in 30 s more, which the 5-minute cold budget does not have).
 *   `--only mobilenetv2-shapes-full` runs the full recipe (14 epochs of 6,000; ~30 minutes; 0.98 validation).
 * - TinyVGG trained on shapes whose background colour gives the class away in training only: the cheating model.
 */
import { fashionMnist, splitDataset } from '../data/dataset.ts';
import { generateShapes } from '../data/shapes.ts';
import { lenet5 } from '../models/lenet5.ts';
import { mobileNetV2 } from '../models/mobilenet-v2.ts';
import { randomCnn } from '../models/random-cnn.ts';
import { gapCnn } from '../models/gap-cnn.ts';
import type { ModelSpec } from './model-report.ts';
import { locateFashionMnist } from '../data/idx.ts';
import { fileStamps } from './report-cache.ts';
import type { SpecEntry } from './shards.ts';

export interface DefaultOptions {
  epochs: number;
  seed: number;
  dataDir?: string;
}

/** MobileNetV2 α 0.35 at 64x64 on shapes: the budget model of the default report and the full recipe. */
function mobileNetV2Shapes(o: DefaultOptions, m: Pick<ModelSpec, 'slug' | 'title' | 'architecture' | 'description'> & {
  head: 'transfer' | 'imagenet';
  clutter: number | undefined;
  train: number;
  validation: number;
  epochs: number;
  learningRate: number;
  localizationImages?: number;
}): ModelSpec {
  return {
    slug: m.slug, title: m.title, architecture: m.architecture, description: m.description,
    identity: { zoo: 'mobilenetv2', alpha: 0.35, inputShape: [64, 64, 3], head: m.head, bnMomentum: 0.9, numClasses: 5 },
    build: () => mobileNetV2({ inputShape: [64, 64, 3], alpha: 0.35, numClasses: 5, head: m.head, bnMomentum: 0.9, seed: o.seed }),
    training: {
      train: generateShapes({ count: m.train, seed: 1, clutter: m.clutter }),
      validation: generateShapes({ count: m.validation, seed: 2, clutter: m.clutter }),
      epochs: m.epochs, batchSize: 32, learningRate: m.learningRate, cosine: true,
    },
    test: generateShapes({ count: 500, seed: 3, clutter: m.clutter }),
    classifier: true,
    seed: o.seed,
    actmax: { maxChannels: 4, steps: 32, maxLayers: 10 },
    randomizationSteps: 4,
    localizationImages: m.localizationImages,
  };
}

/** The GAP CNN on shapes: the honest model and its cheating twin differ only in the shortcut and the budget. */
function gapCnnShapes(o: DefaultOptions, m: Pick<ModelSpec, 'slug' | 'title' | 'description'> & { shortcut: boolean; train: number; epochs: number; learningRate: number }): ModelSpec {
  return {
    slug: m.slug, title: m.title, description: m.description,
    architecture: 'GAP CNN: 3x3 \'same\' convolutions with batch norm and ReLU (8, pool, 16, pool, 32, pool, 64, 64, 64, 64), global average pooling, dense softmax',
    identity: { zoo: 'gap-cnn', inputShape: [64, 64, 3], numClasses: 5 },
    build: () => gapCnn({ inputShape: [64, 64, 3], numClasses: 5, seed: o.seed }),
    training: {
      train: generateShapes({ count: m.train, seed: 1, clutter: 0, shortcut: m.shortcut }),
      validation: generateShapes({ count: 300, seed: 2, clutter: 0, shortcut: m.shortcut }),
      epochs: m.epochs, batchSize: 32, learningRate: m.learningRate, cosine: true,
    },
    test: generateShapes({ count: 500, seed: 3, clutter: 0 }),
    classifier: true,
    shortcut: m.shortcut || undefined,
    seed: o.seed,
    actmax: { maxChannels: 8, steps: 48 },
    // Every method runs on 50 more test images for the pointing game; 32 Integrated-Gradients steps and 16
    // SmoothGrad samples keep that within the budget (the completeness gap is shown on each sample).
    localizationImages: 50,
    methods: { 'integrated-gradients': { steps: 32 }, 'smoothgrad-saliency': { samples: 16 } },
  };
}

/** LeNet-5 trained on Fashion-MNIST (Debian's dataset-fashion-mnist). */
function lenet5Spec(o: DefaultOptions): ModelSpec {
  const full = fashionMnist('train', o.dataDir);
  const { train, validation } = splitDataset(full, 5000, o.seed);
  return {
    slug: 'lenet5-fashion-mnist',
    title: 'LeNet-5 on Fashion-MNIST',
    architecture: 'LeNet-5 (Keras layout)',
    description: 'The classic LeNet-5 layout (two 5x5 convolutions with max pooling, three dense layers) trained from scratch on Fashion-MNIST\'s 28x28 grayscale clothing images.',
    identity: { zoo: 'lenet5', inputShape: [28, 28, 1], numClasses: 10 },
    build: () => lenet5({ seed: o.seed }),
    // 3 epochs (the default) at batch 64 from 3e-3 down a cosine: 88.8 % test accuracy in 32 s of one core, against
    // 89.3 % in 63 s for 5 epochs at 2e-3 and 89.0 % in 96 s for Keras's batch 32 at 1e-3 on the same machine.
    training: { train, validation, epochs: o.epochs, batchSize: 64, learningRate: 3e-3, cosine: true },
    test: fashionMnist('test', o.dataDir),
    classifier: true,
    seed: o.seed,
  };
}

export function defaultEntries(o: DefaultOptions): SpecEntry[] {
  // Each entry's recipe: its slug (the spec's literal options live in this file, which the code hash covers), the
  // options that vary (epochs, seed) and, for real data, the files' names, sizes and dates.
  const recipe = (slug: string, data?: () => unknown) => () => ({ slug, epochs: o.epochs, seed: o.seed, data: data?.() });
  // cost: seconds of each model's cold run on one core of a 2-core machine, for balancing the two processes.
  const entries: SpecEntry[] = [
    { slug: 'lenet5-fashion-mnist', cost: 50, inDefault: true, recipe: recipe('lenet5-fashion-mnist', () => fileStamps(locateFashionMnist(o.dataDir))), make: () => lenet5Spec(o) },
    { slug: 'random-cnn-shapes', cost: 10, inDefault: true, recipe: recipe('random-cnn-shapes'), make: (): ModelSpec => ({
      slug: 'random-cnn-shapes',
      title: 'Random 4-layer CNN on shapes',
      architecture: 'Four 9-filter 3x3 convolutions, max pooling 4, 3, 2 — untrained',
      description: 'A small CNN with its random initial weights, looking at the synthetic shapes. No training: its feature maps show what random filters already respond to (edges, colour blobs) and how pooling makes deeper maps coarse and abstract.',
      identity: { zoo: 'random-cnn', inputShape: [64, 64, 3] },
      build: () => randomCnn({ inputShape: [64, 64, 3], seed: o.seed }),
      test: generateShapes({ count: 50, seed: 1003, size: 64 }),
      classifier: false,
      seed: o.seed,
      actmax: { maxChannels: 9, steps: 48 },
    }) },
    { slug: 'mobilenetv2-shapes', cost: 232, inDefault: true, recipe: recipe('mobilenetv2-shapes'), make: () => mobileNetV2Shapes(o, {
      slug: 'mobilenetv2-shapes',
      title: 'MobileNetV2 (α 0.35) on shapes',
      architecture: 'MobileNetV2, width 0.35, 64x64 input, a transfer-learning head (GAP → BN → dropout → dense 128 → BN → ReLU → dense → BN → softmax), Keras layer names',
      description: 'MobileNetV2 at width 0.35 with a transfer-learning head (global pooling, batch norm, dropout, dense 128, dense 5), trained from scratch on synthetic shapes (circle, square, triangle, star, hexagon on textured backgrounds) for 5 epochs of 6,000 images with a cosine schedule — about 2¼ minutes on one core with convlens\'s fused kernels (batch norm, ReLU6 and Adam in one pass each, SIMD convolution gradients). Its 163 layers show depthwise convolutions, batch normalisation, ReLU6 and residual adds; the shapes\' ground-truth masks score where each explanation points.',
      head: 'transfer', clutter: 0, train: 6000, validation: 300, epochs: 5, learningRate: 6e-3, localizationImages: 0,
    }) },
    { slug: 'gap-cnn-shapes', cost: 121, inDefault: true, recipe: recipe('gap-cnn-shapes'), make: () => gapCnnShapes(o, {
      slug: 'gap-cnn-shapes',
      title: 'A GAP CNN on shapes',
      description: 'A small all-convolutional network ending in global average pooling — the architecture class activation maps were made for — trained from scratch on synthetic shapes (circle, square, triangle, star, hexagon on textured backgrounds). Its \'same\' padding keeps each unit of the last 8x8 block centred on the pixels it describes, so its Grad-CAM can be scored against the objects\' masks: this is the model where Grad-CAM should point at the object, and the honest twin of the cheating model below.',
      shortcut: false, train: 3000, epochs: 6, learningRate: 3e-3,
    }) },
    { slug: 'gap-cnn-shapes-shortcut', cost: 71, inDefault: true, recipe: recipe('gap-cnn-shapes-shortcut'), make: () => gapCnnShapes(o, {
      slug: 'gap-cnn-shapes-shortcut',
      title: 'A cheating GAP CNN (shapes with a shortcut)',
      description: 'The same GAP CNN trained on shapes whose background colour reveals the class — in the training and validation images only. It scores perfectly on validation and near chance on the honest test images, and its explanations point at the background, not at the shapes: the wolf-in-the-snow story (Ribeiro et al. 2016), made real. Compare its pointing game with its honest twin\'s.',
      shortcut: true, train: 2000, epochs: 2, learningRate: 2e-3,
    }) },
    { slug: 'mobilenetv2-shapes-full', cost: 2000, inDefault: false, recipe: recipe('mobilenetv2-shapes-full'), make: () => mobileNetV2Shapes(o, {
      slug: 'mobilenetv2-shapes-full',
      title: 'MobileNetV2 (α 0.35) on shapes, full training',
      architecture: 'MobileNetV2, width 0.35, 64x64 input, Keras layer names',
      description: 'MobileNetV2 at width 0.35 trained from scratch on 6,000 synthetic shapes (circle, square, triangle, star, hexagon on textured or cluttered backgrounds) for 14 epochs with a cosine schedule (~30 minutes on two cores). The shapes\' ground-truth masks score where each explanation points.',
      head: 'imagenet', clutter: undefined, train: 6000, validation: 500, epochs: Math.max(o.epochs, 14), learningRate: 2e-3, localizationImages: 50,
    }) },
  ];
  return entries;
}
