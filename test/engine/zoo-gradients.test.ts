/**
 * Every layer type the zoo trains (conv, depthwise conv, BatchNorm, ReLU6, zero padding, residual add, max and
 * global average pooling, dropout, dense) differentiated on wasm, against the cpu backend: the gradients of a
 * MobileNetV2-style inverted-residual network and a VGG-style block must agree weight by weight.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/data/batches.ts';
import { relError, useBackend } from '../helpers/backends.ts';

function mobileNetBlock(): tf.LayersModel {
  const init = (seed: number) => ({ kernelInitializer: tf.initializers.glorotUniform({ seed }) });
  const input = tf.input({ shape: [16, 16, 3] });
  let x = tf.layers.zeroPadding2d({ padding: [[0, 1], [0, 1]] }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, useBias: false, ...init(1) }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ epsilon: 1e-3, momentum: 0.999 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU({ maxValue: 6 }).apply(x) as tf.SymbolicTensor;
  const shortcut = x;
  let y = tf.layers.conv2d({ filters: 16, kernelSize: 1, useBias: false, ...init(2) }).apply(x) as tf.SymbolicTensor; // expand
  y = tf.layers.batchNormalization({}).apply(y) as tf.SymbolicTensor;
  y = tf.layers.reLU({ maxValue: 6 }).apply(y) as tf.SymbolicTensor;
  y = tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false, depthwiseInitializer: tf.initializers.glorotUniform({ seed: 3 }) }).apply(y) as tf.SymbolicTensor;
  y = tf.layers.batchNormalization({}).apply(y) as tf.SymbolicTensor;
  y = tf.layers.reLU({ maxValue: 6 }).apply(y) as tf.SymbolicTensor;
  y = tf.layers.conv2d({ filters: 8, kernelSize: 1, useBias: false, ...init(4) }).apply(y) as tf.SymbolicTensor; // project
  y = tf.layers.batchNormalization({}).apply(y) as tf.SymbolicTensor;
  x = tf.layers.add().apply([shortcut, y]) as tf.SymbolicTensor;
  x = tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'valid', depthMultiplier: 2, depthwiseInitializer: tf.initializers.glorotUniform({ seed: 5 }) }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dropout({ rate: 0.2, seed: 6 }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 4, activation: 'softmax', ...init(7) }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

function vggBlock(): tf.LayersModel {
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ inputShape: [12, 12, 3], filters: 6, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }));
  m.add(tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: 5, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }));
  return m;
}

/** Gradients of the cross-entropy w.r.t. every trainable weight, in training mode (BatchNorm uses batch stats). */
async function gradients(build: () => tf.LayersModel, inputShape: number[], classes: number, backend: 'cpu' | 'wasm') {
  await useBackend(backend);
  const rand = mulberry32(11);
  const n = 6;
  const xs = Float32Array.from({ length: n * inputShape.reduce((a, b) => a * b, 1) }, () => rand());
  const ys = tf.tidy(() => tf.oneHot(tf.tensor1d(Array.from({ length: n }, (_, i) => i % classes), 'int32'), classes));
  const model = build();
  const x = tf.tensor(xs, [n, ...inputShape]);
  const vars = model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
  const { grads } = tf.variableGrads(() => {
    // Dropout is seeded, so both backends drop the same units.
    const p = model.apply(x, { training: true }) as tf.Tensor;
    return tf.losses.softmaxCrossEntropy(ys, tf.log(tf.clipByValue(p, 1e-7, 1))) as tf.Scalar;
  }, vars);
  const out = await Promise.all(vars.map(async (v) => (await grads[v.name].data()) as Float32Array));
  const names = model.trainableWeights.map((w) => w.originalName.replace(/\d+\//, '/'));
  tf.dispose([x, ys, ...Object.values(grads)]);
  model.dispose();
  return { out, names };
}

describe('zoo layer gradients on wasm match cpu', () => {
  it.each([
    ['MobileNetV2-style block', mobileNetBlock, [16, 16, 3], 4],
    ['VGG-style block', vggBlock, [12, 12, 3], 5],
  ] as const)('%s', async (_, build, shape, classes) => {
    const cpu = await gradients(build, [...shape], classes, 'cpu');
    const wasm = await gradients(build, [...shape], classes, 'wasm');
    expect(cpu.out.length).toBeGreaterThan(4);
    expect(wasm.names).toEqual(cpu.names);
    cpu.out.forEach((ref, i) => {
      // BatchNorm's statistics are summed in a different order on the two backends: 1e-4.
      expect(relError(wasm.out[i], ref), cpu.names[i]).toBeLessThan(1e-4);
    });
  });
});
