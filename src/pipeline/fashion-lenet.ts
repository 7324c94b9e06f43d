/**
 * The default report's first model: LeNet-5 trained on real Fashion-MNIST (seed 002), evaluated on the 10k
 * test set, and explained with every visualization.
 */
import * as tf from '@tensorflow/tfjs';
import { makeBatch } from '../data/batches.ts';
import { type Dataset, fashionMnist, splitDataset } from '../data/dataset.ts';
import type { ModelReport } from '../manifest/schema.ts';
import { lenet5 } from '../models/lenet5.ts';
import { cacheKey, dataFingerprint, trainWithCache } from '../train/cache.ts';
import { bestCheckpoint, progress } from '../train/callbacks.ts';
import { evaluate, fit } from '../train/fit.ts';
import { evaluateProbabilities } from '../viz/evaluation.ts';
import { layerSummaries, pickSamples, visualize } from './visualize.ts';
import { dataPreview, learningCharts } from './preview.ts';

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
  publicDir: string;
  log?: (line: string) => void;
}

/** Class probabilities for every sample, [N, K] row-major. */
export function predictAll(model: tf.LayersModel, data: Dataset, batchSize = 1000): Float32Array {
  const out = new Float32Array(data.count * data.numClasses);
  for (let start = 0; start < data.count; start += batchSize) {
    const idx = Array.from({ length: Math.min(batchSize, data.count - start) }, (_, i) => start + i);
    const { x, y } = makeBatch(data, idx, data.scale, data.offset);
    const p = tf.tidy(() => (model.predict(x, { batchSize }) as tf.Tensor).dataSync());
    tf.dispose([x, y]);
    out.set(p, start * data.numClasses);
  }
  return out;
}

export async function fashionLenet(opts: FashionLenetOptions): Promise<ModelReport> {
  const slug = 'lenet5-fashion-mnist';
  const full = fashionMnist('train', opts.dataDir);
  const test = fashionMnist('test', opts.dataDir);
  // Model selection (best epoch) on a seeded validation split of the training data; the test set is only
  // used for the final numbers.
  const { train, validation } = splitDataset(full, opts.validationCount, opts.seed);
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
        callbacks: [bestCheckpoint({ monitor: 'val_acc' }), progress({ label: slug, stepsPerEpoch: Math.ceil(train.count / opts.batchSize) })],
      }).map((h, i) => ({ epoch: i + 1, loss: h.loss, acc: h.acc, val_loss: h.val_loss, val_acc: h.val_acc })),
  });
  if (cached) opts.log?.(`${slug}: trained model loaded from the cache (${key})`);
  try {
    const { loss } = evaluate(model, test);
    const probs = predictAll(model, test);
    const ev = evaluateProbabilities(probs, test.labels, test.numClasses);
    const t0 = performance.now();
    const views = await visualize({
      model, slug, data: test, sampleIndices: pickSamples(test, probs), publicDir: opts.publicDir, seed: opts.seed,
    });
    opts.log?.(`${slug}: visualizations of ${views.samples.length} samples and ${views.layerViews.length} layers in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const summary = layerSummaries(model);
    return {
      slug,
      title: 'LeNet-5 on Fashion-MNIST',
      architecture: 'LeNet-5 (Keras layout)',
      dataset: {
        name: 'Fashion-MNIST', classes: test.classes, trainCount: train.count,
        validationCount: validation.count, testCount: test.count,
        preview: await dataPreview(train, 15, opts.publicDir, slug),
      },
      layers: summary,
      totalParams: model.countParams(),
      trainableParams: summary.reduce((n, l) => n + l.trainableParams, 0),
      training: { epochs: opts.epochs, batchSize: opts.batchSize, learningRate: opts.learningRate, seed: opts.seed, history, charts: learningCharts(history, opts.publicDir, slug) },
      evaluation: { testAccuracy: ev.accuracy, testLoss: loss, topK: ev.topK, confusion: ev.confusion, perClass: ev.perClass },
      ...views,
    };
  } finally {
    model.dispose();
  }
}
