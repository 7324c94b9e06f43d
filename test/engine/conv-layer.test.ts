/**
 * Conv2D under a gradient tape on wasm (engine/conv-layer.ts): the tape takes only the gradients it needs — no
 * input-image gradient in a training step, no filter gradients for an explanation's input gradient — and the
 * values equal tfjs's own fused path on the cpu backend (outputs, weight and input gradients, ≤ 1e-5).
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/data/batches.ts';
import { relError, useBackend } from '../helpers/backends.ts';

function model(): tf.LayersModel {
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [9, 9, 3], filters: 5, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: init(1) }),
      tf.layers.batchNormalization({}),
      tf.layers.activation({ activation: 'relu' }),
      tf.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, kernelInitializer: init(2), biasInitializer: tf.initializers.constant({ value: 0.1 }) }),
      tf.layers.conv2d({ filters: 4, kernelSize: 1, activation: 'relu', kernelInitializer: init(3) }),
      tf.layers.globalAveragePooling2d({}),
      tf.layers.dense({ units: 3, kernelInitializer: init(4) }),
    ],
  });
}

function input(): tf.Tensor4D {
  const r = mulberry32(7);
  return tf.tensor4d(Float32Array.from({ length: 4 * 9 * 9 * 3 }, () => r() * 2 - 1), [4, 9, 9, 3]);
}

/** Output, gradients of Σ output² for every weight (training) and for the input (inference), and kernel names. */
async function run() {
  const m = model();
  const x = input();
  const vars = m.trainableWeights.map((w) => w.read() as tf.Variable);
  const loss = (training: boolean) => () => tf.sum(tf.square(m.apply(x, { training }) as tf.Tensor)) as tf.Scalar;
  // tf.profile returns the engine's one profile object, refilled by the next call: count before profiling again.
  const count = (info: Awaited<ReturnType<typeof tf.profile>>, name: string) => info.kernels.filter((k) => k.name === name).length;
  let weightGrads: ArrayLike<number>[] = [];
  const train = await tf.profile(() => {
    const { value, grads } = tf.variableGrads(loss(true), vars);
    weightGrads = vars.map((v) => grads[v.name].dataSync());
    tf.dispose([value, ...Object.values(grads)]);
  });
  const trainInput = count(train, 'Conv2DBackpropInput');
  const trainFilter = count(train, 'Conv2DBackpropFilter');
  let inputGrad: ArrayLike<number> = [];
  const explain = await tf.profile(() => {
    const g = tf.grad((xx: tf.Tensor) => tf.sum(tf.square(m.apply(xx, { training: false }) as tf.Tensor)))(x);
    inputGrad = g.dataSync();
    g.dispose();
  });
  const output = (m.predict(x) as tf.Tensor).dataSync();
  const kernels = {
    trainInput, trainFilter, explainInput: count(explain, 'Conv2DBackpropInput'), explainFilter: count(explain, 'Conv2DBackpropFilter'),
  };
  tf.dispose([x, ...m.weights.map((w) => w.read())]);
  return { output, weightGrads, inputGrad, kernels };
}

beforeAll(async () => {
  await useBackend('wasm');
});

describe('Conv2D under a gradient tape on wasm', () => {
  it('takes only the gradients the tape needs, with tfjs\'s values', async () => {
    await useBackend('cpu');
    const cpu = await run();
    await useBackend('wasm');
    const wasm = await run();
    // tfjs's fused path (cpu): both gradients for the two linear convolutions, whatever is asked (the ReLU one runs
    // unfused under a tape in tfjs too).
    expect(cpu.kernels).toEqual({ trainInput: 3, trainFilter: 3, explainInput: 3, explainFilter: 2 });
    // wasm: no input-image gradient in training (the first convolution), no filter gradients for an input gradient.
    expect(wasm.kernels).toEqual({ trainInput: 2, trainFilter: 3, explainInput: 3, explainFilter: 0 });
    expect(relError(wasm.output, cpu.output)).toBeLessThan(1e-5);
    expect(relError(wasm.inputGrad, cpu.inputGrad)).toBeLessThan(1e-5);
    expect(wasm.weightGrads.length).toBe(cpu.weightGrads.length);
    wasm.weightGrads.forEach((g, i) => expect(relError(g, cpu.weightGrads[i])).toBeLessThan(1e-5));
  });
});
