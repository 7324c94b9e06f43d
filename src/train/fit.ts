/**
 * A deterministic training loop: seeded shuffles, optional seeded augmentation, one optimizer step per batch,
 * history of every metric per epoch, and callbacks as small objects (early stopping, best checkpoint,
 * learning-rate schedule, progress). Categorical cross-entropy on the model's softmax output (Keras's
 * `categorical_crossentropy`) plus the layers' regularisation losses. Frozen layers (`layer.trainable = false`)
 * are not updated.
 */
import * as tf from '@tensorflow/tfjs';
import { adam } from '../engine/adam.ts';
import { type ImageArrays, makeBatch, seededPermutation } from '../data/batches.ts';
import { runGraph } from '../engine/graph.ts';
import type { BatchTransform } from '../data/augment.ts';
import { forward } from '../engine/folded.ts';
import { ReplicaError, Replicas } from './parallel.ts';

export interface EpochLogs {
  loss: number;
  acc: number;
  val_loss?: number;
  val_acc?: number;
  /** Learning rate used in this epoch. */
  lr: number;
  seconds: number;
  imagesPerSecond: number;
}

/** What a callback sees and may change. */
export interface TrainContext {
  model: tf.LayersModel;
  /** Set to true to stop after this epoch. */
  stop: boolean;
  /** Learning rate for the next epoch. */
  learningRate: number;
  epochs: number;
}

export interface Callback {
  onTrainBegin?(ctx: TrainContext): void;
  onEpochBegin?(epoch: number, ctx: TrainContext): void;
  onBatchEnd?(step: number, ctx: TrainContext): void;
  onEpochEnd?(epoch: number, logs: EpochLogs, ctx: TrainContext): void;
  /** Runs also when training throws, to free what the callback holds. */
  onTrainEnd?(ctx: TrainContext): void;
}

export interface FitOptions {
  epochs: number;
  batchSize: number;
  seed: number;
  learningRate?: number;
  validation?: ImageArrays;
  /** Bytes → floats: x · scale + offset (default /255 → [0, 1]). */
  scale?: number | number[];
  offset?: number | number[];
  augment?: BatchTransform;
  callbacks?: Callback[];
  /** Stop after this many training images (for benchmarks); whole epochs otherwise. */
  maxImages?: number;
  onEpoch?: (epoch: number, logs: EpochLogs) => void;
  /** Called after every optimizer step with the running count of steps. */
  onBatch?: (step: number) => void;
  /**
   * Data-parallel replicas (worker threads, src/train/parallel.ts; default 1: this thread alone). Results depend on
   * the replica count (each shard's batch-norm statistics), never on timing.
   */
  workers?: number;
  /** Engine threads of each replica (default 1). */
  workerThreads?: number;
  /** Where a note goes (replicas that could not start: training then runs here). Default console.warn. */
  log?: (line: string) => void;
  /**
   * Replicas that cannot start are an error, not a note, and this is the fix the error names: for a caller whose
   * result is keyed by the replica count (a report's `training.replicas`), training alone would give a different
   * model under that key.
   */
  workersRequired?: string;
}

/**
 * The last layer of a frozen base: every layer up to it has nothing to train, and every layer after it reads only
 * it or layers after it (so its output is all the top needs). Undefined when the model has no such base. The scan
 * starts at the first layer: a functional model's is its InputLayer (never a cut), a Sequential model's is its first
 * real layer — LeNet-5's trainable conv2d, which must stop the scan (it once began at index 1, and a Sequential
 * model whose trainable first layer was followed by pooling trained with that layer frozen).
 */
export function frozenPrefix(model: tf.LayersModel): string | undefined {
  const layers = model.layers;
  const index = new Map(layers.map((l, i) => [l.name, i]));
  let cut: string | undefined;
  for (let i = 0; i < layers.length - 1; i++) {
    if (layers[i].trainable && layers[i].trainableWeights.length > 0) break;
    if (layers[i].getClassName() === 'InputLayer') continue;
    const after = layers.slice(i + 1);
    const closed = after.every((l) => ((l.inboundNodes[0]?.inboundLayers ?? []) as tf.layers.Layer[]).every((p) => (index.get(p.name) ?? -1) >= i));
    if (closed) cut = layers[i].name;
  }
  return cut;
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
export function evaluate(
  model: tf.LayersModel,
  data: ImageArrays,
  batchSize = 500,
  scale: number | number[] = 1 / 255,
  offset: number | number[] = 0,
): { loss: number; acc: number } {
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < data.count; start += batchSize) {
    const idx = Array.from({ length: Math.min(batchSize, data.count - start) }, (_, i) => start + i);
    const { x, y } = makeBatch(data, idx, scale, offset);
    const [loss, hits] = tf.tidy(() => {
      const p = forward(model, x, { batchSize }) as tf.Tensor;
      return [
        categoricalCrossentropy(y, p).mul(idx.length).dataSync()[0],
        correctCount(p, y).dataSync()[0],
      ];
    });
    x.dispose();
    y.dispose();
    lossSum += loss;
    correct += hits;
  }
  return { loss: lossSum / data.count, acc: correct / data.count };
}

/** The frozen base's output (`frozenPrefix`), computed once per batch outside the gradient tape, in inference mode. */
export function frozenFeatures(model: tf.LayersModel, x: tf.Tensor, cut: string): tf.Tensor {
  return tf.tidy(() => runGraph(model, x, { capture: [cut], captureOnly: true }).output);
}

/**
 * The model's output in training mode: from the frozen base's `features` when there is one (the tape then holds
 * only the trainable top's activations: a 224x224 MobileNetV2 base would hold ~100 MB per image); through
 * runGraph when a batch-norm layer is frozen (it then runs in inference mode, as Keras does); model.apply otherwise.
 */
export function trainingOutput(model: tf.LayersModel, x: tf.Tensor, o: { cut?: string; features?: tf.Tensor; frozenNorm?: boolean }): tf.Tensor {
  if (o.features) return runGraph(model, x, { replace: { [o.cut!]: o.features }, training: true }).output;
  if (o.frozenNorm) return runGraph(model, x, { training: true }).output;
  return model.apply(x, { training: true }) as tf.Tensor;
}

/** Correct predictions in a batch: arg max of the output against the one-hot labels. */
export function correctCount(p: tf.Tensor, y: tf.Tensor): tf.Scalar {
  return tf.sum(tf.cast(tf.equal(tf.argMax(p, -1), tf.argMax(y, -1)), 'int32')) as tf.Scalar;
}

/**
 * The training objective of a batch, for a gradient tape: mean cross-entropy plus the kernel regularisers' penalty
 * (the L2 of the transfer-learning head). A data-parallel replica (src/train/replica.ts) passes its `share` of the
 * batch (shard / batch, so the replicas' gradients sum to the batch's) and adds the penalty in one replica only.
 * The cross-entropy, the penalty and the correct predictions come back kept (outside the tape's scope): the
 * caller disposes them.
 */
export function batchObjective(
  model: tf.LayersModel,
  x: tf.Tensor,
  y: tf.Tensor,
  o: { cut?: string; features?: tf.Tensor; frozenNorm: boolean; share?: number; penalty?: boolean },
): { objective: tf.Scalar; ce: tf.Scalar; penalty?: tf.Scalar; hits: tf.Scalar } {
  const p = trainingOutput(model, x, o);
  const hits = tf.keep(correctCount(p, y));
  const ce = tf.keep(categoricalCrossentropy(y, p));
  const losses = o.penalty === false ? [] : model.calculateLosses();
  if (o.share == null) {
    const objective = losses.length ? (tf.addN([ce, ...losses]) as tf.Scalar) : ce;
    return { objective, ce, hits };
  }
  const penalty = losses.length ? tf.keep(tf.addN(losses) as tf.Scalar) : undefined;
  const share = tf.mul(ce, o.share) as tf.Scalar;
  return { objective: penalty ? (tf.add(share, penalty) as tf.Scalar) : share, ce, penalty, hits };
}

function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  // Adam reads `learningRate` at every step; tfjs keeps it protected.
  (optimizer as unknown as { learningRate: number }).learningRate = lr;
}

/** Data-parallel replicas when `opts.workers` > 1 (undefined: one thread; said in the log unless they are required). */
function startReplicas(model: tf.LayersModel, data: ImageArrays, opts: FitOptions, cut: string | undefined, frozenNorm: boolean): Replicas | undefined {
  if ((opts.workers ?? 1) <= 1) return undefined;
  try {
    return Replicas.start(model, { replicas: opts.workers!, threads: opts.workerThreads, batchSize: opts.batchSize, inputShape: data.shape, numClasses: data.numClasses, cut, frozenNorm });
  } catch (err) {
    if (!(err instanceof ReplicaError)) throw err;
    if (opts.workersRequired) throw new Error(`${model.name}: ${err.message}; ${opts.workersRequired}`);
    (opts.log ?? console.warn)(`${model.name}: training in this thread alone — ${err.message}`);
    return undefined;
  }
}

/** One optimizer step of `x`, `y` in this thread: the batch's mean loss and its correct predictions. */
function localStep(model: tf.LayersModel, optimizer: tf.Optimizer, vars: tf.Variable[], x: tf.Tensor4D, y: tf.Tensor2D, cut: string | undefined, frozenNorm: boolean): { loss: number; hits: number } {
  let parts: ReturnType<typeof batchObjective> | undefined;
  const features = cut ? frozenFeatures(model, x, cut) : undefined;
  const cost = optimizer.minimize(
    () => {
      parts = batchObjective(model, x, y, { cut, features, frozenNorm });
      return parts.objective;
    },
    true,
    vars,
  )!;
  const result = { loss: cost.dataSync()[0], hits: parts!.hits.dataSync()[0] };
  tf.dispose([cost, parts!.hits, parts!.ce, ...(features ? [features] : [])]);
  return result;
}

/** A training run's state across epochs: the model and its optimizer, the images seen and the steps taken. */
interface Run {
  model: tf.LayersModel;
  data: ImageArrays;
  opts: FitOptions;
  ctx: TrainContext;
  optimizer: tf.Optimizer;
  vars: tf.Variable[];
  cut?: string;
  frozenNorm: boolean;
  replicas?: Replicas;
  seen: number;
  steps: number;
}

/** One epoch: every batch in the epoch's seeded order (up to `maxImages` in all), then validation. */
function runEpoch(run: Run, epoch: number, scale: number | number[], offset: number | number[]): EpochLogs {
  const { model, data, opts, ctx, optimizer, vars, replicas } = run;
  const callbacks = opts.callbacks ?? [];
  setLearningRate(optimizer, ctx.learningRate);
  const lr = ctx.learningRate;
  const order = seededPermutation(data.count, opts.seed * 7919 + epoch);
  const t0 = performance.now();
  let lossSum = 0;
  let correct = 0;
  let n = 0;
  const starts: number[] = [];
  for (let start = 0, upTo = run.seen; start < data.count; start += opts.batchSize) {
    if (opts.maxImages != null && upTo >= opts.maxImages) break;
    starts.push(start);
    upTo += Math.min(opts.batchSize, data.count - start);
  }
  const step0 = run.steps;
  const prepare = (b: number) => {
    const idx = order.subarray(starts[b], Math.min(starts[b] + opts.batchSize, data.count));
    const batch = makeBatch(data, idx, scale, offset);
    const x = opts.augment ? tf.tidy(() => opts.augment!(batch.x, step0 + b)) : batch.x;
    return { count: idx.length, raw: batch.x, x, y: batch.y };
  };
  let next: ReturnType<typeof prepare> | undefined;
  for (let b = 0; b < starts.length; b++) {
    const cur = next ?? prepare(b);
    next = undefined;
    if (replicas) {
      replicas.post(cur.x, cur.y);
      if (b + 1 < starts.length) next = prepare(b + 1); // made while the replicas compute
      const r = replicas.finish(optimizer, vars);
      lossSum += r.loss;
      correct += r.hits;
    } else {
      const s = localStep(model, optimizer, vars, cur.x, cur.y, run.cut, run.frozenNorm);
      lossSum += s.loss * cur.count;
      correct += s.hits;
    }
    n += cur.count;
    run.seen += cur.count;
    tf.dispose([cur.raw, cur.x, cur.y]);
    run.steps++;
    for (const cb of callbacks) cb.onBatchEnd?.(run.steps, ctx);
    opts.onBatch?.(run.steps);
  }
  const seconds = (performance.now() - t0) / 1000;
  const logs: EpochLogs = { loss: lossSum / n, acc: correct / n, lr, seconds, imagesPerSecond: n / seconds };
  if (opts.validation) {
    const v = evaluate(model, opts.validation, 500, scale, offset);
    logs.val_loss = v.loss;
    logs.val_acc = v.acc;
  }
  return logs;
}

export function fit(model: tf.LayersModel, data: ImageArrays, opts: FitOptions): EpochLogs[] {
  const scale = opts.scale ?? 1 / 255;
  const offset = opts.offset ?? 0;
  const ctx: TrainContext = { model, stop: false, learningRate: opts.learningRate ?? 1e-3, epochs: opts.epochs };
  const callbacks = opts.callbacks ?? [];
  const optimizer = adam(ctx.learningRate);
  const history: EpochLogs[] = [];
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  if (vars.length === 0) throw new Error(`${model.name}: no trainable weights (every layer is frozen); unfreeze some layers to train`);
  const cut = frozenPrefix(model);
  const frozenNorm = model.layers.some((l) => l.getClassName() === 'BatchNormalization' && !l.trainable);
  const run: Run = { model, data, opts, ctx, optimizer, vars, cut, frozenNorm, seen: 0, steps: 0 };
  try {
    run.replicas = startReplicas(model, data, opts, cut, frozenNorm);
    for (const cb of callbacks) cb.onTrainBegin?.(ctx);
    for (let epoch = 0; epoch < opts.epochs && !ctx.stop; epoch++) {
      for (const cb of callbacks) cb.onEpochBegin?.(epoch, ctx);
      const logs = runEpoch(run, epoch, scale, offset);
      history.push(logs);
      for (const cb of callbacks) cb.onEpochEnd?.(epoch, logs, ctx);
      opts.onEpoch?.(epoch, logs);
      if (opts.maxImages != null && run.seen >= opts.maxImages) break;
    }
  } finally {
    run.replicas?.stop();
    for (const cb of callbacks) cb.onTrainEnd?.(ctx);
    optimizer.dispose();
  }
  return history;
}
