/**
 * Forward passes on ONNX Runtime (engine/ort/): each layer kind convlens's loaders produce, written as ONNX and run
 * by onnxruntime-node, against tfjs's own `model.predict` on the cpu backend (unfused, channels last); the
 * Teachable-Machine-style model; a layer ONNX has no form for (the tfjs engine runs the model, the layer named);
 * weight changes (the session follows); batches; the execution provider choice; no leaked tensors.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/data/batches.ts';
import { forward } from '../../src/engine/folded.ts';
import { exportOnnx, Unsupported } from '../../src/engine/ort/export.ts';
import { forwardEngine, loadOrt, providers } from '../../src/engine/ort/runtime.ts';
import { flattenModel } from '../../src/models/flatten.ts';
import { SigmoidPair } from '../../src/models/heads.ts';
import { OnnxHardSigmoid } from '../../src/models/onnx.ts';
import { predictOnCpu, relError, useBackend } from '../helpers/backends.ts';
import { teachableModel } from '../helpers/teachable.ts';

const L = tf.layers;

beforeAll(async () => {
  await useBackend('wasm');
});

beforeEach(() => {
  process.env.CONVLENS_FORWARD = 'onnxruntime';
});

afterAll(() => {
  delete process.env.CONVLENS_FORWARD;
});

/** Every weight random (variances positive), so a transposed kernel or a swapped statistic shows. */
function randomize(model: tf.LayersModel, seed: number): void {
  const r = mulberry32(seed);
  for (const l of model.layers) {
    const names = l.weights.map((w) => w.originalName);
    if (!names.length) continue;
    l.setWeights(l.getWeights().map((w, i) => tf.tensor(
      Float32Array.from({ length: w.size }, () => (names[i].endsWith('moving_variance') ? 0.3 + r() : 2 * r() - 1) * (names[i].endsWith('kernel') ? 0.6 : 1)),
      w.shape,
    )));
  }
}

const input = (shape: number[], seed: number) => tf.randomUniform(shape, -1, 1, 'float32', seed);

/** The model's forward pass on ONNX Runtime against tfjs's predict on the cpu backend. */
async function expectSame(model: tf.LayersModel, seed: number, tol = 2e-5): Promise<void> {
  randomize(model, seed);
  const x = input([3, ...(model.inputs[0].shape.slice(1) as number[])], seed);
  const engine = forwardEngine(model);
  expect(engine.kind === 'tfjs' ? engine.reason : engine.kind).toBe('onnxruntime');
  const y = forward(model, x, { batchSize: 2 });
  expect(y.shape).toEqual([3, ...(model.outputs[0].shape.slice(1) as number[])]);
  expect(relError(await y.data(), await predictOnCpu(model, x))).toBeLessThan(tol);
  y.dispose();
  x.dispose();
}

const seq = (input: number[], layers: tf.layers.Layer[]) => {
  const m = tf.sequential();
  m.add(L.inputLayer({ inputShape: input }));
  for (const l of layers) m.add(l);
  return m;
};

describe('ONNX Runtime forward passes', () => {
  it('loads here (onnxruntime-node is installed with the package)', () => {
    const ort = loadOrt();
    expect(typeof ort).not.toBe('string');
  });

  it('convolutions: same and valid, odd sizes, strides, dilation, bias or none, fused activations', async () => {
    await expectSame(seq([13, 11, 3], [
      L.conv2d({ filters: 5, kernelSize: 3, padding: 'same', activation: 'relu' }),
      L.conv2d({ filters: 6, kernelSize: [3, 2], strides: 2, padding: 'same', useBias: false }),
      L.conv2d({ filters: 4, kernelSize: 3, dilationRate: 2, padding: 'same', activation: 'tanh' }),
      L.conv2d({ filters: 4, kernelSize: 2, strides: [2, 1], padding: 'valid', activation: 'elu' }),
      L.flatten(),
      L.dense({ units: 7, activation: 'softmax' }),
    ]), 1);
  });

  it('depthwise (multiplier 2) and separable convolutions, batch norm with and without scale and center, ReLU6', async () => {
    await expectSame(seq([12, 12, 3], [
      L.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', strides: 2 }),
      L.batchNormalization({ epsilon: 1e-3 }),
      L.reLU({ maxValue: 6 }),
      L.separableConv2d({ filters: 5, kernelSize: 3, padding: 'valid', depthMultiplier: 1 }),
      L.batchNormalization({ scale: false, center: false }),
      L.activation({ activation: 'relu6' }),
      L.conv2d({ filters: 4, kernelSize: 1 }),
      L.batchNormalization({ scale: true, center: false }),
      L.leakyReLU({ alpha: 0.2 }),
      L.globalAveragePooling2d({}),
      L.batchNormalization({}),
      L.dense({ units: 3 }),
    ]), 2);
  });

  it('pooling (max and average, same and valid: the average counts only pixels inside), asymmetric padding, global max', async () => {
    await expectSame(seq([11, 9, 4], [
      L.zeroPadding2d({ padding: [[1, 2], [0, 3]] }),
      L.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }),
      L.averagePooling2d({ poolSize: 2, strides: 1, padding: 'same' }),
      L.averagePooling2d({ poolSize: [2, 3], padding: 'valid' }),
      L.maxPooling2d({ poolSize: 2, strides: 1, padding: 'valid' }),
      L.globalMaxPooling2d({}),
      L.dense({ units: 3, activation: 'sigmoid' }),
    ]), 3);
  });

  it('activations by name and layer: selu, softplus, softsign, hard_sigmoid, swish, mish, gelu, ELU, Softmax over channels; Permute and Reshape in Keras\'s order', async () => {
    await expectSame(seq([6, 6, 3], [
      L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'selu' }),
      L.activation({ activation: 'softplus' }),
      L.conv2d({ filters: 4, kernelSize: 1, activation: 'softsign' }),
      L.activation({ activation: 'hardSigmoid' }),
      L.conv2d({ filters: 4, kernelSize: 1, activation: 'swish' }),
      L.conv2d({ filters: 4, kernelSize: 1, activation: 'mish' }),
      L.activation({ activation: 'gelu' }),
      L.elu({}),
      L.softmax({ axis: -1 }),
      L.permute({ dims: [3, 1, 2] }),
      L.reshape({ targetShape: [36, 4] }),
      L.reshape({ targetShape: [3, 12, 4] }),
      L.flatten(),
      L.dropout({ rate: 0.5 }),
      L.dense({ units: 2 }),
    ]), 4);
  });

  it('branches and merges: add, multiply, maximum, minimum, average, concatenate; a squeeze-excite reshape', async () => {
    const x = L.input({ shape: [8, 8, 3] });
    const a = L.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(x) as tf.SymbolicTensor;
    const b = L.conv2d({ filters: 6, kernelSize: 1 }).apply(x) as tf.SymbolicTensor;
    const sum = L.add().apply([a, b]) as tf.SymbolicTensor;
    const se = L.reshape({ targetShape: [1, 1, 6] }).apply(L.dense({ units: 6, activation: 'sigmoid' }).apply(L.globalAveragePooling2d({}).apply(sum))) as tf.SymbolicTensor;
    const scaled = L.multiply().apply([sum, se]) as tf.SymbolicTensor;
    const parts = [
      L.maximum().apply([a, b, sum]), L.minimum().apply([a, b]), L.average().apply([a, b, scaled]),
    ] as tf.SymbolicTensor[];
    const cat = L.concatenate().apply(parts) as tf.SymbolicTensor;
    const out = L.dense({ units: 4, activation: 'softmax' }).apply(L.flatten().apply(cat)) as tf.SymbolicTensor;
    await expectSame(tf.model({ inputs: x, outputs: out }), 5);
  });

  it("convlens's own head layers: one sigmoid unit as two classes, ONNX's hard sigmoid and hard swish", async () => {
    await expectSame(seq([5, 5, 2], [
      L.conv2d({ filters: 3, kernelSize: 3 }),
      new OnnxHardSigmoid({ alpha: 1 / 6, beta: 0.5, swish: true }),
      new OnnxHardSigmoid({ alpha: 0.2, beta: 0.5 }),
      L.flatten(),
      L.dense({ units: 1 }),
      new SigmoidPair({}),
    ]), 6);
  });

  it('a Teachable-Machine-style model (nested MobileNet, flattened): the same outputs as tfjs', async () => {
    const model = flattenModel(teachableModel(64, 3));
    await expectSame(model, 7, 1e-4);
  });

  it('a model with a layer ONNX has no form for runs on the tfjs engine, which names the layer', async () => {
    const model = seq([6, 6, 2], [L.upSampling2d({ size: [2, 2], name: 'up' }), L.flatten(), L.dense({ units: 2 })]);
    expect(() => exportOnnx(model)).toThrow(Unsupported);
    const engine = forwardEngine(model);
    expect(engine).toMatchObject({ kind: 'tfjs' });
    expect(engine.kind === 'tfjs' && engine.reason).toContain("layer 'up'");
    const x = input([2, 6, 6, 2], 8);
    expect(relError(await forward(model, x).data(), await predictOnCpu(model, x))).toBeLessThan(1e-5);
  });

  it('follows weight changes, runs any batch count, and without CONVLENS_FORWARD=onnxruntime forward passes stay on tfjs', async () => {
    const model = seq([7, 7, 3], [L.conv2d({ filters: 3, kernelSize: 3, activation: 'relu' }), L.flatten(), L.dense({ units: 3, activation: 'softmax' })]);
    randomize(model, 9);
    const x = input([5, 7, 7, 3], 9);
    const before = await forward(model, x, { batchSize: 2 }).data();
    randomize(model, 10);
    const after = await forward(model, x, { batchSize: 3 }).data();
    expect(relError(after, await predictOnCpu(model, x))).toBeLessThan(1e-5);
    expect(relError(before, after)).toBeGreaterThan(1e-2);
    expect(forward(model, x.slice(0, 0), { batchSize: 2 }).shape).toEqual([0, 3]);
    process.env.CONVLENS_FORWARD = 'tfjs';
    expect(forwardEngine(model)).toEqual({ kind: 'tfjs', reason: 'CONVLENS_FORWARD is not onnxruntime' });
    expect(relError(await forward(model, x).data(), after)).toBeLessThan(1e-5);
  });

  it('leaks no tensors', () => {
    const model = seq([6, 6, 3], [L.conv2d({ filters: 2, kernelSize: 3 }), L.globalAveragePooling2d({}), L.dense({ units: 2 })]);
    const x = input([4, 6, 6, 3], 11);
    forward(model, x).dispose();
    const n = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) forward(model, x, { batchSize: 3 }).dispose();
    expect(tf.memory().numTensors).toBe(n);
  });

  it('asks for the CUDA provider only when a GPU is asked for and its library is installed', () => {
    expect(providers(false, false)).toEqual(['cpu']);
    expect(providers(false, true)).toEqual(['cpu']);
    expect(providers(true, false)).toEqual(['cpu']);
    expect(providers(true, true)).toEqual(['cuda', 'cpu']);
  });
});
