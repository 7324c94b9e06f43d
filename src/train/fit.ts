/**
 * A deterministic training loop: seeded shuffles, one optimizer step per batch, history of every metric per
 * epoch. Categorical cross-entropy on the model's softmax output (Keras's `categorical_crossentropy`).
 */
import * as tf from '@tensorflow/tfjs';
import { type ImageArrays, makeBatch, seededPermutation } from '../data/batches.ts';

export interface FitOptions {
  epochs: number;
  batchSize: number;
  seed: number;
  learningRate?: number;
  validation?: ImageArrays;
  /** Stop after this many training images (for benchmarks); whole epochs otherwise. */
  maxImages?: number;
  onEpoch?: (epoch: number, logs: EpochLogs) => void;
  /** Called after every optimizer step with the running count of steps. */
  onBatch?: (step: number) => void;
}

export interface EpochLogs {
  loss: number;
  acc: number;
  val_loss?: number;
  val_acc?: number;
  seconds: number;
  imagesPerSecond: number;
}

/** Keras's categorical cross-entropy on probabilities, averaged over the batch. */
export function categoricalCrossentropy(yTrue: tf.Tensor, yProb: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const eps = 1e-7;
    const p = tf.clipByValue(yProb, eps, 1 - eps);
    return tf.neg(tf.mean(tf.sum(tf.mul(yTrue, tf.log(p)), -1))) as tf.Scalar;
  });
}

/** Loss and accuracy of `model` on `data`, in batches. */
export function evaluate(model: tf.LayersModel, data: ImageArrays, batchSize = 1000): { loss: number; acc: number } {
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < data.count; start += batchSize) {
    const idx = Array.from({ length: Math.min(batchSize, data.count - start) }, (_, i) => start + i);
    const { x, y } = makeBatch(data, idx);
    const [loss, hits] = tf.tidy(() => {
      const p = model.predict(x, { batchSize }) as tf.Tensor;
      return [
        categoricalCrossentropy(y, p).mul(idx.length).dataSync()[0],
        tf.sum(tf.cast(tf.equal(tf.argMax(p, -1), tf.argMax(y, -1)), 'int32')).dataSync()[0],
      ];
    });
    x.dispose();
    y.dispose();
    lossSum += loss;
    correct += hits;
  }
  return { loss: lossSum / data.count, acc: correct / data.count };
}

export function fit(model: tf.LayersModel, data: ImageArrays, opts: FitOptions): EpochLogs[] {
  const optimizer = tf.train.adam(opts.learningRate ?? 1e-3);
  const history: EpochLogs[] = [];
  let seen = 0;
  let steps = 0;
  try {
    for (let epoch = 0; epoch < opts.epochs; epoch++) {
      const order = seededPermutation(data.count, opts.seed * 7919 + epoch);
      const t0 = performance.now();
      let lossSum = 0;
      let correct = 0;
      let n = 0;
      for (let start = 0; start < data.count; start += opts.batchSize) {
        if (opts.maxImages != null && seen >= opts.maxImages) break;
        const idx = order.subarray(start, Math.min(start + opts.batchSize, data.count));
        const { x, y } = makeBatch(data, idx);
        let hits: tf.Scalar | undefined;
        const cost = optimizer.minimize(() => {
          const p = model.apply(x, { training: true }) as tf.Tensor;
          hits = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(p, -1), tf.argMax(y, -1)), 'int32')) as tf.Scalar);
          return categoricalCrossentropy(y, p);
        }, true)!;
        lossSum += cost.dataSync()[0] * idx.length;
        correct += hits!.dataSync()[0];
        n += idx.length;
        seen += idx.length;
        tf.dispose([x, y, cost, hits!]);
        opts.onBatch?.(++steps);
      }
      const seconds = (performance.now() - t0) / 1000;
      const logs: EpochLogs = { loss: lossSum / n, acc: correct / n, seconds, imagesPerSecond: n / seconds };
      if (opts.validation) {
        const v = evaluate(model, opts.validation);
        logs.val_loss = v.loss;
        logs.val_acc = v.acc;
      }
      history.push(logs);
      opts.onEpoch?.(epoch, logs);
      if (opts.maxImages != null && seen >= opts.maxImages) break;
    }
  } finally {
    optimizer.dispose();
  }
  return history;
}
