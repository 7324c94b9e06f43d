/**
 * The default report's first model: LeNet-5 trained on real Fashion-MNIST (seed 002), evaluated on the 10k
 * test set with a confusion matrix.
 */
import * as tf from '@tensorflow/tfjs';
import { type ImageArrays, makeBatch, splitSeeded } from '../data/batches.ts';
import { FASHION_MNIST_CLASSES, locateFashionMnist, readMnistSplit } from '../data/idx.ts';
import type { ModelReport } from '../manifest/schema.ts';
import { lenet5 } from '../models/lenet5.ts';
import { cacheKey, dataFingerprint, trainWithCache } from '../train/cache.ts';
import { bestCheckpoint, progress } from '../train/callbacks.ts';
import { evaluate, fit } from '../train/fit.ts';
import { summarize } from './summary.ts';

export interface FashionLenetOptions {
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  /** Training images held out for validation (model selection). */
  validationCount: number;
  dataDir?: string;
  /** Folder of the training cache (default .cache/models); `noCache` trains regardless. */
  cacheDir?: string;
  noCache?: boolean;
  backend: string;
  log?: (line: string) => void;
}

function load(dir: string, split: 'train' | 'test'): ImageArrays {
  const s = readMnistSplit(dir, split);
  return { images: s.images, labels: s.labels, count: s.count, shape: [s.height, s.width, 1], numClasses: 10 };
}

/** confusion[true][predicted] over `data`. */
export function confusionMatrix(model: tf.LayersModel, data: ImageArrays, batchSize = 1000): number[][] {
  const m = Array.from({ length: data.numClasses }, () => new Array<number>(data.numClasses).fill(0));
  for (let start = 0; start < data.count; start += batchSize) {
    const idx = Array.from({ length: Math.min(batchSize, data.count - start) }, (_, i) => start + i);
    const { x, y } = makeBatch(data, idx);
    const pred = tf.tidy(() => (model.predict(x, { batchSize }) as tf.Tensor).argMax(-1).dataSync());
    tf.dispose([x, y]);
    idx.forEach((sample, i) => m[data.labels[sample]][pred[i]]++);
  }
  return m;
}

export async function fashionLenet(opts: FashionLenetOptions): Promise<ModelReport> {
  const dir = locateFashionMnist(opts.dataDir);
  const full = load(dir, 'train');
  const test = load(dir, 'test');
  // Model selection (best epoch) on a seeded validation split of the training data; the test set is only
  // used for the final numbers.
  const { train, validation } = splitSeeded(full, opts.validationCount, opts.seed);
  const training = {
    epochs: opts.epochs, batchSize: opts.batchSize, learningRate: opts.learningRate, optimizer: 'adam',
    validationCount: opts.validationCount, checkpoint: 'best val_acc',
  };
  const key = cacheKey({
    model: { zoo: 'lenet5', inputShape: train.shape, numClasses: 10 },
    data: [dataFingerprint(full), dataFingerprint(test)],
    training,
    seed: opts.seed,
    backend: opts.backend,
  });
  const { model, history, cached } = await trainWithCache({
    dir: opts.cacheDir ?? '.cache/models',
    key,
    noCache: opts.noCache,
    build: () => lenet5({ seed: opts.seed }),
    train: (m) =>
      fit(m, train, {
        epochs: opts.epochs,
        batchSize: opts.batchSize,
        seed: opts.seed,
        learningRate: opts.learningRate,
        validation,
        callbacks: [bestCheckpoint({ monitor: 'val_acc' }), progress({ label: 'lenet5-fashion-mnist', stepsPerEpoch: Math.ceil(train.count / opts.batchSize) })],
      }).map((h, i) => ({ epoch: i + 1, loss: h.loss, acc: h.acc, val_loss: h.val_loss, val_acc: h.val_acc })),
  });
  if (cached) opts.log?.(`lenet5-fashion-mnist: trained model loaded from the cache (${key})`);
  try {
    const { loss, acc } = evaluate(model, test);
    return {
      slug: 'lenet5-fashion-mnist',
      title: 'LeNet-5 on Fashion-MNIST',
      architecture: 'LeNet-5 (Keras layout)',
      dataset: {
        name: 'Fashion-MNIST', classes: [...FASHION_MNIST_CLASSES], trainCount: train.count,
        validationCount: validation.count, testCount: test.count,
      },
      ...summarize(model),
      training: { epochs: opts.epochs, batchSize: opts.batchSize, learningRate: opts.learningRate, seed: opts.seed, history },
      evaluation: { testAccuracy: acc, testLoss: loss, confusion: confusionMatrix(model, test) },
    };
  } finally {
    model.dispose();
  }
}
