/**
 * Forward passes with batch normalization folded into the convolutions (engine/folded.ts): which layers fuse, and
 * the outputs against `model.predict` on the cpu backend (tfjs's unfused layers) for the built-in GAP CNN and
 * MobileNetV2 and a Keras-style model with every case the folding distinguishes, against a hand-worked example,
 * after weight updates (the folded weights follow the variables), in batches, without leaked tensors.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/data/batches.ts';
import { foldedGraph, foldedGroups, forward } from '../../src/engine/folded.ts';
import { runGraph } from '../../src/engine/graph.ts';
import { targetScore } from '../../src/viz/target.ts';
import { withGuidedRelu } from '../../src/viz/methods/guided-backprop.ts';
import { flattenModel } from '../../src/models/flatten.ts';
import { gapCnn } from '../../src/models/gap-cnn.ts';
import { mobileNetV2 } from '../../src/models/mobilenet-v2.ts';
import { predictOnCpu, relError, useBackend } from '../helpers/backends.ts';
import { teachableModel } from '../helpers/teachable.ts';

beforeAll(async () => {
  await useBackend('wasm');
  // The tfjs engine's folded passes (ONNX Runtime, which runs forward passes when installed, has its own tests).
  process.env.CONVLENS_FORWARD = 'tfjs';
});

afterAll(() => {
  delete process.env.CONVLENS_FORWARD;
});

/** Moving statistics, scales and offsets far from their initial 0 / 1 (so a folding mistake shows). */
function randomizeNorms(model: tf.LayersModel, seed: number): void {
  const r = mulberry32(seed);
  for (const l of model.layers) {
    if (l.getClassName() !== 'BatchNormalization') continue;
    const names = l.weights.map((w) => w.originalName);
    l.setWeights(l.getWeights().map((w, i) => {
      const variance = names[i].endsWith('moving_variance');
      return tf.tensor(Float32Array.from({ length: w.size }, () => (variance ? 0.2 + 2 * r() : 2 * r() - 0.7)), w.shape);
    }));
  }
}

function images(n: number, side: number, seed: number): tf.Tensor4D {
  const r = mulberry32(seed);
  return tf.tensor4d(Float32Array.from({ length: n * side * side * 3 }, () => 2 * r() - 1), [n, side, side, 3]);
}

/** The logits head of a model (its last layer's input), so the comparison is not flattened by a softmax. */
function logitsModel(model: tf.LayersModel): tf.LayersModel {
  return tf.model({ inputs: model.inputs, outputs: model.layers[model.layers.length - 2].output as tf.SymbolicTensor });
}

/** 1x1 conv (w 2, b 1) → BN (γ 3, β −1, μ 0.5, σ² 3, ε 0.001) → ReLU → flatten, on a 1x3 one-channel input. */
function handWorkedModel(): tf.LayersModel {
  const input = tf.input({ shape: [1, 3, 1] });
  const c = tf.layers.conv2d({ filters: 1, kernelSize: 1, name: 'c' }).apply(input) as tf.SymbolicTensor;
  const b = tf.layers.batchNormalization({ name: 'b' }).apply(c) as tf.SymbolicTensor;
  const a = tf.layers.reLU({ name: 'a' }).apply(b) as tf.SymbolicTensor;
  const out = tf.layers.flatten({ name: 'f' }).apply(a) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  model.getLayer('c').setWeights([tf.tensor4d([2], [1, 1, 1, 1]), tf.tensor1d([1])]);
  model.getLayer('b').setWeights([tf.tensor1d([3]), tf.tensor1d([-1]), tf.tensor1d([0.5]), tf.tensor1d([3])]);
  return model;
}

describe('forward with folded batch norm', () => {
  it('GAP CNN: conv → BN → ReLU becomes one fused convolution; logits as model.predict on cpu (rel. ≤ 1e-5)', async () => {
    const model = gapCnn({ seed: 3 });
    randomizeNorms(model, 1);
    expect(foldedGroups(model)).toEqual(['1', '2', '3', '4_1', '4_2', '4_3', '4_4'].map((id) => [`conv_${id}`, `bn_${id}`, 'relu']));
    const logits = logitsModel(model);
    const x = images(6, 64, 2);
    const before = tf.memory().numTensors;
    const got = forward(logits, x);
    const values = await got.data();
    got.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(relError(values, await predictOnCpu(logits, x))).toBeLessThan(1e-5);
    x.dispose();
  });

  it('GAP CNN on wasm: a conv group and the 2x2 max pooling after it run as one kernel (both tile sizes); the group\'s own output when it is captured', async () => {
    const model = gapCnn({ seed: 4 });
    randomizeNorms(model, 2);
    const logits = logitsModel(model);
    const kernels = async (f: () => tf.Tensor) => (await tf.profile(() => { f().dispose(); })).kernels.map((k) => k.name);
    // Batch 5: conv_2 and conv_3 by F(4x4, 3x3) (≥ 48 4x4 tiles); batch 1: conv_3 (4x4 tiles of a 16x16 map) by F(2x2, 3x3).
    for (const n of [5, 1]) {
      const x = images(n, 64, 3 + n);
      const names = await kernels(() => forward(logits, x));
      expect(names.filter((k) => k === 'ConvlensConvPool2x2')).toHaveLength(2); // pool_2, pool_3
      expect(names.filter((k) => k === 'MaxPool')).toHaveLength(1); // pool_1: conv_1's 3 input channels are XNNPACK's
      const got = forward(logits, x);
      expect(relError(await got.data(), await predictOnCpu(logits, x))).toBeLessThan(1e-5);
      got.dispose();
      // Capturing relu_2 (pool_2's input) keeps its group unpooled: the capture is the layer's own output.
      const before = tf.memory().numTensors;
      const outs = tf.tidy(() => {
        const r = foldedGraph(logits, x, { capture: ['relu_2', 'pool_2'], differentiable: false });
        return [r.output, r.captured.relu_2, r.captured.pool_2];
      });
      const relu2 = await outs[1].data();
      const pool2 = await outs[2].data();
      tf.dispose(outs);
      expect(tf.memory().numTensors).toBe(before);
      await useBackend('cpu');
      const ref = runGraph(logits, x, { capture: ['relu_2', 'pool_2'] });
      const [refRelu, refPool] = [await ref.captured.relu_2.data(), await ref.captured.pool_2.data()];
      tf.dispose([ref.output, ...Object.values(ref.captured)]);
      await useBackend('wasm');
      expect(relError(relu2, refRelu)).toBeLessThan(1e-5);
      expect(relError(pool2, refPool)).toBeLessThan(1e-5);
      const captured = await kernels(() => tf.tidy(() => foldedGraph(logits, x, { capture: ['relu_2'], differentiable: false }).output));
      expect(captured.filter((k) => k === 'ConvlensConvPool2x2')).toHaveLength(1); // pool_3 only
      x.dispose();
    }
  });

  it('MobileNetV2: every convolution fused (ReLU6 after expand and depthwise, linear projections feeding the residual adds)', async () => {
    const model = mobileNetV2({ alpha: 0.35, inputShape: [32, 32, 3], head: 'transfer', numClasses: 4, seed: 2 });
    randomizeNorms(model, 4);
    const groups = foldedGroups(model);
    const convs = model.layers.filter((l) => ['Conv2D', 'DepthwiseConv2D'].includes(l.getClassName())).map((l) => l.name);
    expect(groups.map((g) => g[0])).toEqual(convs);
    expect(groups.every(([, bn]) => bn != null)).toBe(true);
    const act = Object.fromEntries(groups.map(([c, , a]) => [c, a]));
    expect(act.Conv1).toBe('relu6');
    expect(act.block_1_expand).toBe('relu6');
    expect(act.block_1_depthwise).toBe('relu6');
    expect(act.block_1_project).toBe('linear');
    expect(act.block_2_project).toBe('linear'); // its BN feeds block_2_add and block_3 (shortcut): not an activation
    const x = images(5, 32, 3);
    const wasm = forward(model, x);
    expect(relError(await wasm.data(), await predictOnCpu(model, x))).toBeLessThan(1e-5);
    tf.dispose([wasm, x]);
  });

  it('a Keras-style model: biases, scale/center off, depth multiplier 2, ReLU without BN, shared and unfoldable outputs', async () => {
    const input = tf.input({ shape: [12, 12, 3] });
    const c1 = tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', useBias: true, biasInitializer: 'randomNormal', name: 'c1' }).apply(input) as tf.SymbolicTensor;
    const b1 = tf.layers.batchNormalization({ center: false, name: 'b1' }).apply(c1) as tf.SymbolicTensor;
    const a1 = tf.layers.activation({ activation: 'relu', name: 'a1' }).apply(b1) as tf.SymbolicTensor;
    const d2 = tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'valid', useBias: true, biasInitializer: 'randomNormal', name: 'd2' }).apply(a1) as tf.SymbolicTensor;
    const b2 = tf.layers.batchNormalization({ scale: false, epsilon: 0.01, name: 'b2' }).apply(d2) as tf.SymbolicTensor;
    const a2 = tf.layers.reLU({ maxValue: 6, name: 'a2' }).apply(b2) as tf.SymbolicTensor;
    const c3 = tf.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', dilationRate: 2, name: 'c3' }).apply(a2) as tf.SymbolicTensor;
    const a3 = tf.layers.reLU({ name: 'a3' }).apply(c3) as tf.SymbolicTensor; // no BN: the ReLU alone is fused
    const c4 = tf.layers.conv2d({ filters: 16, kernelSize: 1, name: 'c4' }).apply(a3) as tf.SymbolicTensor;
    // c4's output feeds two layers: nothing of it is folded.
    const b4 = tf.layers.batchNormalization({ name: 'b4' }).apply(c4) as tf.SymbolicTensor;
    const sum = tf.layers.add({ name: 'sum' }).apply([b4, c4]) as tf.SymbolicTensor;
    const c5 = tf.layers.conv2d({ filters: 16, kernelSize: 1, name: 'c5' }).apply(sum) as tf.SymbolicTensor;
    const b5 = tf.layers.batchNormalization({ axis: 1, name: 'b5' }).apply(c5) as tf.SymbolicTensor; // not the channel axis
    const c6 = tf.layers.conv2d({ filters: 8, kernelSize: 1, activation: 'relu', name: 'c6' }).apply(b5) as tf.SymbolicTensor;
    const b6 = tf.layers.batchNormalization({ name: 'b6' }).apply(c6) as tf.SymbolicTensor; // after a ReLU'd conv
    const out = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(b6) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: out });
    randomizeNorms(model, 7);
    expect(foldedGroups(model)).toEqual([['c1', 'b1', 'relu'], ['d2', 'b2', 'relu6'], ['c3', null, 'relu']]);
    const x = images(3, 12, 5);
    const got = forward(model, x);
    expect(relError(await got.data(), await predictOnCpu(model, x))).toBeLessThan(1e-5);
    tf.dispose([got, x]);
  });

  it('a Teachable-Machine-style model, flattened as convlens loads it: its three conv → BN → ReLU6 fold; output as the nested model on cpu', async () => {
    const nested = teachableModel(32, 3);
    const flat = flattenModel(nested);
    expect(foldedGroups(nested)).toEqual([]); // nested models run model.predict
    expect(foldedGroups(flat)).toEqual([
      ['Conv1', 'bn_Conv1', 'relu6'],
      ['expanded_conv_depthwise', 'expanded_conv_depthwise_BN', 'relu6'],
      ['expanded_conv_project', 'expanded_conv_project_BN', 'relu6'],
    ]);
    const x = images(4, 32, 12);
    const got = forward(flat, x);
    expect(relError(await got.data(), await predictOnCpu(nested, x))).toBeLessThan(1e-5);
    tf.dispose([got, x]);
  });

  it('a hand-worked example: 1x1 conv (w 2, b 1) → BN (γ 3, β −1, μ 0.5, σ² 3, ε 0.001) → ReLU', async () => {
    const model = handWorkedModel();
    expect(foldedGroups(model)).toEqual([['c', 'b', 'relu']]);
    const xs = [-1, 0.25, 2];
    const expected = xs.map((v) => Math.max(0, (3 * (2 * v + 1 - 0.5)) / Math.sqrt(3.001) - 1));
    const got = forward(model, tf.tensor4d(xs, [1, 1, 3, 1]));
    const values = Array.from(await got.data());
    got.dispose();
    values.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 6));
    expect(expected[0]).toBe(0); // the ReLU is applied
  });

  it('follows the weights: after setWeights and a training step the folded forward equals predict again', async () => {
    const model = gapCnn({ seed: 5, blocks: [[8], [16]], inputShape: [16, 16, 3] });
    randomizeNorms(model, 9);
    const x = images(4, 16, 6);
    const check = () => {
      const a = tf.tidy(() => model.predict(x) as tf.Tensor);
      const b = forward(model, x);
      const err = relError(b.dataSync(), a.dataSync());
      tf.dispose([a, b]);
      return err;
    };
    expect(check()).toBeLessThan(1e-5);
    randomizeNorms(model, 10); // new moving statistics
    expect(check()).toBeLessThan(1e-5);
    const conv = model.getLayer('conv_2');
    conv.setWeights(conv.getWeights().map((w) => tf.mul(w, -1.5)));
    expect(check()).toBeLessThan(1e-5);
    model.compile({ optimizer: tf.train.sgd(0.5), loss: 'categoricalCrossentropy' });
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3], 'int32'), 5);
    await model.fit(x, y, { epochs: 1, batchSize: 4, verbose: 0 }); // updates kernels and moving statistics
    expect(check()).toBeLessThan(1e-5);
    tf.dispose([x, y]);
  });

  it('in batches: 7 images at batchSize 3 give the same values as one batch, with no tensor left behind', () => {
    const model = gapCnn({ seed: 6, blocks: [[8], [16]], inputShape: [16, 16, 3] });
    randomizeNorms(model, 11);
    const x = images(7, 16, 8);
    const before = tf.memory().numTensors;
    const whole = forward(model, x);
    const parts = forward(model, x, { batchSize: 3 });
    expect(parts.shape).toEqual([7, 5]);
    expect(relError(parts.dataSync(), whole.dataSync())).toBeLessThan(1e-6);
    tf.dispose([whole, parts]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('runs model.predict for models it does not fold (two outputs)', () => {
    const input = tf.input({ shape: [8, 8, 3] });
    const c = tf.layers.conv2d({ filters: 4, kernelSize: 3, name: 'c' }).apply(input) as tf.SymbolicTensor;
    const b = tf.layers.batchNormalization({ name: 'b' }).apply(c) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: [b, c] });
    expect(foldedGroups(model)).toEqual([]);
  });
});

/** Σ_b logit[b, t_b] layer by layer (no folding), as runGraph computes it. */
function unfoldedScore(model: tf.LayersModel, x: tf.Tensor, targets: number[], replace?: Record<string, tf.Tensor>): tf.Scalar {
  const logits = runGraph(model, x, { logits: true, replace }).output as tf.Tensor2D;
  return tf.sum(tf.mul(logits, tf.oneHot(tf.tensor1d(targets, 'int32'), logits.shape[1]))) as tf.Scalar;
}

/** The input gradient of the unfolded score on the cpu backend (tfjs's own layers and gradients). */
async function cpuGradient(model: tf.LayersModel, x: tf.Tensor, targets: number[], guided = false): Promise<Float32Array> {
  await useBackend('cpu');
  const run = () => tf.tidy(() => tf.grad((v: tf.Tensor) => unfoldedScore(model, v, targets))(x));
  const g = guided ? withGuidedRelu(run) : run();
  const out = (await g.data()) as Float32Array;
  g.dispose();
  await useBackend('wasm');
  return out;
}

describe('gradient passes with folded batch norm (foldedGraph, differentiable)', () => {
  it('MobileNetV2: input gradients of the target logit as the unfolded layers on cpu (rel. ≤ 1e-4), no batch norm or clip kernel left, nothing leaked', async () => {
    const model = mobileNetV2({ alpha: 0.35, inputShape: [32, 32, 3], head: 'transfer', numClasses: 4, seed: 2 });
    randomizeNorms(model, 4);
    const x = images(3, 32, 21);
    const targets = [0, 3, 1];
    const before = tf.memory().numTensors;
    const grad = () => tf.tidy(() => tf.grad((v: tf.Tensor) => targetScore(model, v, targets))(x));
    const profile = await tf.profile(() => {
      grad().dispose();
    });
    expect(tf.memory().numTensors).toBe(before);
    const kernels = new Set(profile.kernels.map((k) => k.name));
    // Only the head's batch norms (after global pooling and the dense layer) remain: 3 of the model's 55.
    expect(profile.kernels.filter((k) => k.name === 'FusedBatchNorm').length).toBe(3);
    expect(kernels.has('ClipByValue')).toBe(false);
    expect(kernels.has('Relu6')).toBe(true);
    const g = grad();
    const got = (await g.data()) as Float32Array;
    g.dispose();
    const want = await cpuGradient(model, x, targets);
    expect(relError(got, want)).toBeLessThan(1e-4);
    expect(Math.max(...want.map(Math.abs))).toBeGreaterThan(0);
    x.dispose();
  });

  it('guided backpropagation still guides every ReLU6 of a folded group (as the unfolded layers on cpu)', async () => {
    const model = mobileNetV2({ alpha: 0.35, inputShape: [32, 32, 3], head: 'transfer', numClasses: 4, seed: 7 });
    randomizeNorms(model, 5);
    const x = images(2, 32, 22);
    const g = withGuidedRelu(() => tf.tidy(() => tf.grad((v: tf.Tensor) => targetScore(model, v, [1, 2]))(x)));
    const got = (await g.data()) as Float32Array;
    g.dispose();
    const guided = await cpuGradient(model, x, [1, 2], true);
    const plain = await cpuGradient(model, x, [1, 2]);
    expect(relError(got, guided)).toBeLessThan(1e-4);
    expect(relError(got, plain)).toBeGreaterThan(0.05); // guiding changes the gradient: the comparison can tell them apart
    x.dispose();
  });

  it('a replaced or captured layer inside a group is the layer\'s own: gradients with respect to it and its values as unfolded', async () => {
    const model = gapCnn({ seed: 8, blocks: [[8], [16]], inputShape: [16, 16, 3] });
    randomizeNorms(model, 12);
    const x = images(2, 16, 23);
    for (const layer of ['conv_2', 'bn_2', 'relu_2']) { // inside the group (conv, BN) and its last layer
      const unfolded = tf.tidy(() => {
        const a = runGraph(model, x, { capture: [layer] }).captured[layer];
        return [a, tf.grad((v: tf.Tensor) => unfoldedScore(model, x, [0, 4], { [layer]: v }))(a)];
      });
      const folded = tf.tidy(() => {
        const a = foldedGraph(model, x, { capture: [layer], captureOnly: true, differentiable: false }).captured[layer];
        return [a, tf.grad((v: tf.Tensor) => targetScore(model, x, [0, 4], { [layer]: v }))(a)];
      });
      expect(relError(folded[0].dataSync(), unfolded[0].dataSync())).toBeLessThan(1e-5);
      expect(relError(folded[1].dataSync(), unfolded[1].dataSync())).toBeLessThan(1e-5);
      tf.dispose([...folded, ...unfolded]);
    }
    x.dispose();
  });

  it('a hand-worked example: d/dx of ReLU(BN(2x + 1)) with γ 3, β −1, μ 0.5, σ² 3, ε 0.001 is 6/√3.001 where positive, else 0', () => {
    const model = handWorkedModel();
    const x = tf.tensor4d([-1, 0.25, 2], [1, 1, 3, 1]);
    const g = tf.grad((v: tf.Tensor) => tf.sum(foldedGraph(model, v, { differentiable: true }).output))(x);
    const values = Array.from(g.dataSync());
    tf.dispose([g, x]);
    // x = −1: BN output 3(−1.5)/√3.001 − 1 < 0 → 0; x = 0.25 and 2: positive → 2·3/√3.001.
    expect(values[0]).toBe(0);
    expect(values[1]).toBeCloseTo(6 / Math.sqrt(3.001), 5);
    expect(values[2]).toBeCloseTo(6 / Math.sqrt(3.001), 5);
  });
});
