/**
 * One data-parallel training replica, run in a worker thread by src/train/parallel.ts: a single-threaded wasm
 * engine, the main thread's model rebuilt from its JSON, and a loop that sleeps on the shared control block until
 * the main thread posts a step, then reads the weights (when their version changed) and its shard of the batch from
 * shared memory, computes the gradient of its share of the loss and writes it, its batch-norm moving statistics,
 * its loss and its hits back. Nothing here decides anything: the main thread sums, steps Adam and writes weights.
 */
import { workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../engine/backend.ts';
import { batchObjective, frozenFeatures } from './fit.ts';
import { C, type ReplicaData, replicaLayout, writeError } from './parallel.ts';

const data = workerData as ReplicaData;
const c = new Int32Array(data.control);
const k = data.index;

async function start() {
  process.env.CONVLENS_THREADS = String(data.threads); // the replica's share of the cores
  await selectBackend({ cli: 'wasm' });
  const model = await tf.models.modelFromJSON({ modelTopology: data.topology as never });
  const trainable = model.trainableWeights;
  const fixed = model.nonTrainableWeights;
  const shapes = (ws: typeof trainable) => ws.map((w) => w.shape.join('x')).join(',');
  if (shapes(trainable) !== data.trainableShapes || shapes(fixed) !== data.fixedShapes) {
    throw new Error('the rebuilt model does not have the same weights as the original (its JSON does not round-trip)');
  }
  const vars = trainable.map((w) => w.read() as tf.Variable);
  const layout = replicaLayout(data);
  const weights = new Float32Array(data.weights);
  const input = new Float32Array(data.inputs[k]);
  const output = new Float32Array(data.outputs[k]);
  const stats = new Float64Array(data.stats[k]);
  const present = new Int32Array(data.present[k]);
  const all = [...trainable, ...fixed];
  let version = -1;
  return () => {
    const n = c[C.SHARD0 + k];
    const batch = c[C.BATCH];
    if (c[C.VERSION] !== version) {
      version = c[C.VERSION];
      tf.tidy(() => all.forEach((w, i) => w.write(tf.tensor(weights.subarray(layout.offsets[i], layout.offsets[i] + layout.sizes[i]), w.shape as number[]))));
    }
    stats.fill(0);
    output.fill(0);
    present.fill(0);
    if (n > 0) {
      const [H, W, Ch] = data.inputShape;
      const x = tf.tensor4d(input.subarray(0, n * H * W * Ch), [n, H, W, Ch]);
      const y = tf.tensor2d(input.subarray(layout.yOffset, layout.yOffset + n * data.numClasses), [n, data.numClasses]);
      const last = k === data.replicas - 1; // always holds ≥ 1 image: it adds the regularisation loss, once
      tf.tidy(() => {
        let parts: ReturnType<typeof batchObjective> | undefined;
        const features = data.cut ? frozenFeatures(model, x, data.cut) : undefined;
        const { value, grads } = tf.variableGrads(() => {
          parts = batchObjective(model, x, y, { cut: data.cut, features, frozenNorm: data.frozenNorm, share: n / batch, penalty: last });
          return parts.objective;
        }, vars);
        vars.forEach((v, i) => {
          const g = grads[v.name];
          if (g == null) return;
          output.set(g.dataSync() as Float32Array, layout.offsets[i]);
          present[i] = 1;
        });
        fixed.forEach((w, j) => output.set(w.read().dataSync() as Float32Array, layout.offsets[trainable.length + j]));
        const { ce, penalty, hits } = parts!;
        stats[0] = ce.dataSync()[0] * n;
        stats[1] = penalty ? penalty.dataSync()[0] : 0;
        stats[2] = hits.dataSync()[0];
        value.dispose();
        tf.dispose([hits, ce, ...(penalty ? [penalty] : []), ...(features ? [features] : [])]);
      });
      tf.dispose([x, y]);
    }
  };
}

let step: (() => void) | undefined;
try {
  step = await start();
} catch (err) {
  writeError(data, k, err);
}
Atomics.add(c, C.READY, 1);
Atomics.notify(c, C.READY);
if (step) {
  let seen = 0;
  for (;;) {
    Atomics.wait(c, C.SEQ, seen);
    seen = Atomics.load(c, C.SEQ);
    if (seen < 0) break;
    try {
      step();
    } catch (err) {
      writeError(data, k, err);
    }
    Atomics.add(c, C.DONE, 1);
    Atomics.notify(c, C.DONE);
  }
}
process.exit(0);
