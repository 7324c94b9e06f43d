/**
 * Data-parallel training over worker threads. `Replicas.start` starts R workers (src/train/replica.ts), each with a
 * single-threaded wasm engine and the model rebuilt from its JSON; every step the main thread splits the batch into
 * R contiguous shards, the replicas compute the gradients of their shares of the loss at the same weights, and the
 * main thread sums them in replica order (float32, always the same order: the result depends on R, never on timing),
 * steps its own optimizer with the sum — so the main thread's model is the trained model, as without replicas — and
 * writes the new weights back for the next step. Batch norm normalises each shard by its own statistics (PyTorch's
 * DistributedDataParallel without SyncBatchNorm, tf.distribute without SyncBatchNormalization) and the moving
 * averages are averaged over the replicas (old + Σ(new_k − old) / R, exact when they agree, as frozen layers'
 * do). Everything crosses in SharedArrayBuffers and the main thread waits with Atomics.wait, so `fit` stays
 * synchronous. Measured on 2 cores (batch 32, 64x64): two single-threaded replicas train the GAP CNN 1.12x and
 * MobileNetV2 α0.35 1.16x faster than one engine on two threads (XNNPACK splits each operator across threads and
 * synchronises after every one of a training step's hundreds; replicas synchronise once per step).
 */
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { requestedThreads } from '../engine/threads.ts';

/** Slots of the control block (int32). */
export const C = { SEQ: 0, DONE: 1, READY: 2, FAILED: 3, VERSION: 4, BATCH: 5, SHARD0: 8 } as const; // replica-worker.mjs repeats READY, FAILED

export interface ReplicaData {
  index: number;
  replicas: number;
  /** XNNPACK / SIMD threads of each replica's engine. */
  threads: number;
  topology: unknown;
  trainableShapes: string;
  fixedShapes: string;
  /** Element counts of the trainable weights, then of the non-trainable ones. */
  sizes: number[];
  inputShape: [number, number, number];
  numClasses: number;
  maxShard: number;
  cut?: string;
  frozenNorm: boolean;
  control: SharedArrayBuffer;
  weights: SharedArrayBuffer;
  inputs: SharedArrayBuffer[];
  outputs: SharedArrayBuffer[];
  stats: SharedArrayBuffer[];
  present: SharedArrayBuffer[];
  error: SharedArrayBuffer;
}

export function replicaLayout(d: Pick<ReplicaData, 'sizes' | 'inputShape' | 'maxShard'>) {
  const offsets: number[] = [];
  let total = 0;
  for (const s of d.sizes) {
    offsets.push(total);
    total += s;
  }
  const [H, W, Ch] = d.inputShape;
  return { offsets, sizes: d.sizes, total, yOffset: d.maxShard * H * W * Ch };
}

/** Record replica k's failure (the first one wins) for the main thread to throw. */
export function writeError(d: Pick<ReplicaData, 'control' | 'error'>, k: number, err: unknown): void {
  const c = new Int32Array(d.control);
  if (Atomics.compareExchange(c, C.FAILED, 0, k + 1) !== 0) return;
  const text = err instanceof Error ? err.message : String(err);
  const bytes = new TextEncoder().encode(text).subarray(0, d.error.byteLength - 4);
  new Int32Array(d.error, 0, 1)[0] = bytes.length;
  new Uint8Array(d.error, 4).set(bytes);
}

function readError(d: Pick<ReplicaData, 'error'>): string {
  const n = new Int32Array(d.error, 0, 1)[0];
  return new TextDecoder().decode(new Uint8Array(d.error, 4, n).slice());
}

/**
 * Engine threads of each of `replicas` replicas: this process's cores (CONVLENS_THREADS; 'auto' = its share of the
 * machine) shared among them, at least 1. The thread count never changes a result (tested); the replica count does,
 * which is why it is a setting of the training (`training.replicas`), not chosen from the machine.
 */
export function replicaThreads(replicas: number, env: NodeJS.ProcessEnv = process.env): number {
  return Math.max(1, Math.floor(requestedThreads(env) / Math.max(1, replicas)));
}

export class ReplicaError extends Error {}

const WORKER = new URL('./replica-worker.mjs', import.meta.url);

function waitFor(c: Int32Array, slot: number, target: number, deadline: number, what: string): void {
  for (;;) {
    const v = Atomics.load(c, slot);
    if (v >= target) return;
    const left = deadline - performance.now();
    if (left <= 0) throw new ReplicaError(`training replicas: no answer ${what} (${target - v} of ${target} missing)`);
    Atomics.wait(c, slot, v, Math.min(left, 60_000));
  }
}

export class Replicas {
  private readonly c: Int32Array;
  private readonly layout: ReturnType<typeof replicaLayout>;
  private readonly weights: Float32Array;
  private readonly inputs: Float32Array[];
  private readonly outputs: Float32Array[];
  private readonly stats: Float64Array[];
  private readonly present: Int32Array[];
  private stopped = false;

  private constructor(
    private readonly model: tf.LayersModel,
    private readonly data: Omit<ReplicaData, 'index'>,
    private readonly workers: Worker[],
  ) {
    this.c = new Int32Array(data.control);
    this.layout = replicaLayout(data);
    this.weights = new Float32Array(data.weights);
    this.inputs = data.inputs.map((b) => new Float32Array(b));
    this.outputs = data.outputs.map((b) => new Float32Array(b));
    this.stats = data.stats.map((b) => new Float64Array(b));
    this.present = data.present.map((b) => new Int32Array(b));
  }

  get count(): number {
    return this.data.replicas;
  }

  /** Start `replicas` workers on `model` and wait until each has rebuilt it (throws ReplicaError when one cannot). */
  static start(
    model: tf.LayersModel,
    o: { replicas: number; threads?: number; batchSize: number; inputShape: [number, number, number]; numClasses: number; cut?: string; frozenNorm: boolean; timeoutMs?: number; entry?: URL },
  ): Replicas {
    try {
      return Replicas.launch(model, o);
    } catch (err) {
      // Whatever stops replicas (a model JSON cannot express, memory for the shared buffers) leaves training to
      // this thread.
      throw err instanceof ReplicaError ? err : new ReplicaError(`training replicas: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private static launch(model: tf.LayersModel, o: Parameters<typeof Replicas.start>[1]): Replicas {
    const R = o.replicas;
    const trainable = model.trainableWeights;
    const fixed = model.nonTrainableWeights;
    const sizes = [...trainable, ...fixed].map((w) => (w.shape as number[]).reduce((a, b) => a * b, 1));
    const maxShard = Math.ceil(o.batchSize / R);
    const [H, W, Ch] = o.inputShape;
    const total = sizes.reduce((a, b) => a + b, 0);
    const shared = (bytes: number) => new SharedArrayBuffer(Math.max(8, bytes));
    const data: Omit<ReplicaData, 'index'> = {
      replicas: R,
      threads: o.threads ?? 1,
      topology: model.toJSON(null, false),
      trainableShapes: trainable.map((w) => w.shape.join('x')).join(','),
      fixedShapes: fixed.map((w) => w.shape.join('x')).join(','),
      sizes,
      inputShape: o.inputShape,
      numClasses: o.numClasses,
      maxShard,
      cut: o.cut,
      frozenNorm: o.frozenNorm,
      control: shared(4 * (C.SHARD0 + R)),
      weights: shared(4 * total),
      inputs: Array.from({ length: R }, () => shared(4 * maxShard * (H * W * Ch + o.numClasses))),
      outputs: Array.from({ length: R }, () => shared(4 * total)),
      stats: Array.from({ length: R }, () => shared(8 * 3)),
      present: Array.from({ length: R }, () => shared(4 * trainable.length)),
      error: shared(4096),
    };
    const workers = Array.from({ length: R }, (_, index) => {
      const w = new Worker(o.entry ?? WORKER, { workerData: { ...data, index }, execArgv: [], stdout: false, stderr: false });
      w.unref();
      return w;
    });
    const replicas = new Replicas(model, data, workers);
    try {
      waitFor(replicas.c, C.READY, R, performance.now() + (o.timeoutMs ?? 120_000), 'while starting');
      replicas.check();
      replicas.publishWeights();
    } catch (err) {
      replicas.stop();
      throw err;
    }
    return replicas;
  }

  private check(): void {
    const failed = Atomics.load(this.c, C.FAILED);
    if (failed) throw new ReplicaError(`training replica ${failed} of ${this.count}: ${readError(this.data)}`);
  }

  /** Copy every weight of the main model into the shared weights and bump their version. */
  private publishWeights(): void {
    const all = [...this.model.trainableWeights, ...this.model.nonTrainableWeights];
    all.forEach((w, i) => this.weights.set(w.read().dataSync() as Float32Array, this.layout.offsets[i]));
    Atomics.add(this.c, C.VERSION, 1);
  }

  /**
   * One optimizer step on the batch (x, y): `post` hands the shards to the replicas and returns at once (the
   * caller may prepare the next batch meanwhile); `finish` waits for them, sums their gradients in replica order
   * and applies them with `optimizer` to `vars` (the main model's trainable variables, in model.trainableWeights
   * order). It returns the batch's summed loss (cross-entropy plus regularisation, per image) and its correct
   * predictions.
   */
  private posted = 0;
  private readonly shards: number[] = [];

  post(x: tf.Tensor4D, y: tf.Tensor2D): void {
    if (this.stopped) throw new ReplicaError('training replicas: stopped');
    if (this.posted) throw new ReplicaError('training replicas: a step is already under way');
    const [n, H, W, Ch] = x.shape;
    const [iH, iW, iC] = this.data.inputShape;
    if (H !== iH || W !== iW || Ch !== iC || n > this.data.maxShard * this.count) {
      throw new ReplicaError(`training replicas: a batch of shape [${x.shape}] does not fit the replicas' [≤${this.data.maxShard * this.count},${this.data.inputShape}]`);
    }
    const K = this.data.numClasses;
    const xs = x.dataSync() as Float32Array;
    const ys = y.dataSync() as Float32Array;
    const size = H * W * Ch;
    const R = this.count;
    this.c[C.BATCH] = n;
    for (let k = 0; k < R; k++) {
      const s0 = Math.floor((k * n) / R);
      const s1 = Math.floor(((k + 1) * n) / R);
      this.c[C.SHARD0 + k] = s1 - s0;
      this.shards[k] = s1 - s0;
      this.inputs[k].set(xs.subarray(s0 * size, s1 * size));
      this.inputs[k].set(ys.subarray(s0 * K, s1 * K), this.layout.yOffset);
    }
    Atomics.store(this.c, C.DONE, 0);
    Atomics.add(this.c, C.SEQ, 1);
    Atomics.notify(this.c, C.SEQ);
    this.posted = n;
  }

  finish(optimizer: tf.Optimizer, vars: tf.Variable[], timeoutMs = 1_800_000): { loss: number; hits: number } {
    const n = this.posted;
    if (!n) throw new ReplicaError('training replicas: no step under way');
    this.posted = 0;
    const R = this.count;
    waitFor(this.c, C.DONE, R, performance.now() + timeoutMs, 'to a training step');
    this.check();

    // Gradients: the shards' sums in replica order, float32 like a kernel's.
    const { offsets, sizes } = this.layout;
    const T = vars.length;
    const end = T ? offsets[T - 1] + sizes[T - 1] : 0;
    const acc = this.outputs[0].slice(0, end); // a replica writes zeros for a variable without a gradient
    for (let k = 1; k < R; k++) {
      const o = this.outputs[k];
      for (let j = 0; j < end; j++) acc[j] += o[j];
    }
    const grads: tf.NamedTensorMap = {};
    vars.forEach((v, i) => {
      if (this.present.some((p) => p[i])) grads[v.name] = tf.tensor(acc.subarray(offsets[i], offsets[i] + sizes[i]), v.shape);
    });
    optimizer.applyGradients(grads);
    tf.dispose(Object.values(grads));

    // Moving statistics (and any other non-trainable weight a step changes): the mean of the updates of the
    // replicas that had images (a batch smaller than the replica count leaves some without).
    const active = Array.from({ length: R }, (_, k) => k).filter((k) => this.shards[k] > 0);
    this.model.nonTrainableWeights.forEach((w, j) => {
      const i = T + j;
      const old = w.read().dataSync() as Float32Array;
      const next = new Float32Array(sizes[i]);
      let changed = false;
      for (let e = 0; e < next.length; e++) {
        let delta = 0;
        for (const k of active) delta += this.outputs[k][offsets[i] + e] - old[e];
        next[e] = delta === 0 ? old[e] : old[e] + delta / active.length;
        if (next[e] !== old[e]) changed = true;
      }
      if (changed) tf.tidy(() => {
        w.write(tf.tensor(next, w.shape as number[]));
      });
    });
    this.publishWeights();

    let loss = 0;
    let hits = 0;
    for (let k = 0; k < R; k++) {
      loss += this.stats[k][0] + this.stats[k][1] * n;
      hits += this.stats[k][2];
    }
    return { loss, hits };
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    Atomics.store(this.c, C.SEQ, -1);
    Atomics.notify(this.c, C.SEQ);
    for (const w of this.workers) void w.terminate();
  }
}
