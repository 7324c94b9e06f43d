/**
 * Attribution methods against hand-worked answers and references computed another way:
 * a one-conv model whose Grad-CAM and Grad-CAM++ are known 2x2 matrices, saliency against finite differences,
 * guided backprop on a two-layer net worked by hand, Score-CAM and occlusion against slow per-image loops,
 * and Integrated Gradients' completeness on LeNet-5.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { lenet5 } from '../../src/models/lenet5.ts';
import { runGraph } from '../../src/engine/graph.ts';
import { defaultCamLayer } from '../../src/viz/graph.ts';
import { gradCam } from '../../src/viz/methods/grad-cam.ts';
import { gradCamPlusPlus } from '../../src/viz/methods/grad-cam-plus-plus.ts';
import { guidedBackprop } from '../../src/viz/methods/guided-backprop.ts';
import { integratedGradients } from '../../src/viz/methods/integrated-gradients.ts';
import { occlusion, occlusionGeometry, patchOrigins } from '../../src/viz/methods/occlusion.ts';
import { saliency } from '../../src/viz/methods/saliency.ts';
import { scoreCam } from '../../src/viz/methods/score-cam.ts';
import { relError, useBackend } from '../helpers/backends.ts';
import { oneConv, oneConvInput } from '../helpers/small-models.ts';

beforeAll(async () => {
  await useBackend('wasm');
});

const X = oneConvInput;
// Activations A = 2x2 window sums of X = [[4, 6], [3, 5]]; logit_0 = 2 · mean(A) ⇒ ∂logit_0/∂A = 0.5.

describe('CAMs on a one-conv model (worked by hand)', () => {
  it("a ResNet's CAM layer is its last block's output (the ReLU after the Add), not the convolution inside it", () => {
    const input = tf.input({ shape: [6, 6, 2] });
    const a = tf.layers.conv2d({ name: 'stem', filters: 2, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(input) as tf.SymbolicTensor;
    const b = tf.layers.conv2d({ name: 'block_conv', filters: 2, kernelSize: 3, padding: 'same' }).apply(a) as tf.SymbolicTensor;
    const bn = tf.layers.batchNormalization({ name: 'block_bn' }).apply(b) as tf.SymbolicTensor;
    const sum = tf.layers.add({ name: 'block_add' }).apply([a, bn]) as tf.SymbolicTensor;
    const out = tf.layers.activation({ name: 'block_out', activation: 'relu' }).apply(sum) as tf.SymbolicTensor;
    const head = tf.layers.dense({ units: 2 }).apply(tf.layers.globalAveragePooling2d({}).apply(out)) as tf.SymbolicTensor;
    const m = tf.model({ inputs: input, outputs: head });
    expect(defaultCamLayer(m)).toBe('block_out');
    m.dispose();
  });

  it('finds the conv layer and computes logits without softmax', () => {
    const m = oneConv();
    expect(defaultCamLayer(m)).toBe('conv');
    expect(Array.from(runGraph(m, X(), { logits: true }).output.dataSync())).toEqual([9, -4.5]);
  });

  it('Grad-CAM = ReLU(0.5 · A) for class 0 and 0 for class 1', () => {
    const m = oneConv();
    const r0 = gradCam.attribute({ model: m, x: X(), targets: [0], seed: 0 }, {} as never);
    expect(Array.from(r0.lowRes!.dataSync())).toEqual([2, 3, 1.5, 2.5]);
    expect(r0.maps.shape).toEqual([1, 3, 3]);
    // Units sit at their 2x2 fields' centres (1, 1), (1, 2), (2, 1), (2, 2) in pixel-edge coordinates; pixel
    // centres are 0.5, 1.5, 2.5, so the middle row and column average two units and the outer ones copy one.
    expect(Array.from(r0.maps.dataSync())).toEqual([2, 2.5, 3, 1.75, 2.25, 2.75, 1.5, 2, 2.5]);
    const r1 = gradCam.attribute({ model: m, x: X(), targets: [1], seed: 0 }, {} as never);
    expect(Array.from(r1.lowRes!.dataSync())).toEqual([0, 0, 0, 0]);
  });

  it('Grad-CAM++: g = 0.5, α = g²/(2g² + ΣA·g³) = 1/11, w = 4·α·g = 2/11', () => {
    const m = oneConv();
    const r = gradCamPlusPlus.attribute({ model: m, x: X(), targets: [0], seed: 0 }, {} as never);
    expect(relError(r.lowRes!.dataSync(), [4, 6, 3, 5].map((a) => (a * 2) / 11))).toBeLessThan(1e-6);
  });

  it('Score-CAM matches a per-mask loop', () => {
    const m = oneConv();
    const r = scoreCam.attribute({ model: m, x: X(), targets: [0], seed: 0 }, { maxChannels: 256, batchSize: 256 });
    // One channel ⇒ softmax over one score = 1 ⇒ CAM = ReLU(A).
    expect(Array.from(r.lowRes!.dataSync())).toEqual([4, 6, 3, 5]);
  });
});

describe('gradient methods', () => {
  it('saliency equals max_c |finite differences| of the logit', () => {
    const m = tf.sequential();
    m.add(tf.layers.conv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 3, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }), biasInitializer: tf.initializers.constant({ value: 0.1 }) }));
    m.add(tf.layers.flatten());
    m.add(tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }));
    const x = tf.randomUniform([1, 6, 6, 2], 0, 1, 'float32', 3) as tf.Tensor4D;
    const r = saliency.attribute({ model: m, x, targets: [2], seed: 0 }, {} as never);
    // Central differences, all 72 inputs in one batch.
    const h = 1e-3;
    const base = x.dataSync();
    const rows: number[] = [];
    for (let i = 0; i < base.length; i++) for (const s of [h, -h]) rows.push(...base.map((v, k) => (k === i ? v + s : v)));
    const logits = runGraph(m, tf.tensor4d(rows, [2 * base.length, 6, 6, 2]), { logits: true }).output.arraySync() as number[][];
    const fd = base.map((_, i) => (logits[2 * i][2] - logits[2 * i + 1][2]) / (2 * h));
    const map = Array.from({ length: 36 }, (_, p) => Math.max(Math.abs(fd[2 * p]), Math.abs(fd[2 * p + 1])));
    expect(relError(r.maps.dataSync(), map)).toBeLessThan(2e-3);
  });

  it('guided backprop on x → Dense(2, ReLU) → Dense(1), worked by hand', () => {
    // h = ReLU(xW1): W1 = [[1, −1], [1, 1]] (rows = inputs) on x = (1, 2) ⇒ pre-activations (3, 1), both open.
    // y = h1 − 2·h2. Plain gradient: W1 · (1, −2) = (1·1 + (−1)(−2), 1·1 + 1·(−2)) = (3, −1). Guided: the ReLU of
    // h2 passes only positive gradients and ∂y/∂h2 = −2 < 0 is cut ⇒ W1 · (1, 0) = (1, 1).
    const input = tf.input({ shape: [1, 1, 2] });
    const flat = tf.layers.flatten().apply(input) as tf.SymbolicTensor;
    const hidden = tf.layers.dense({ units: 2, activation: 'relu', useBias: false, name: 'h' }).apply(flat) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 1, useBias: false, name: 'y' }).apply(hidden) as tf.SymbolicTensor;
    const m = tf.model({ inputs: input, outputs: out });
    m.getLayer('h').setWeights([tf.tensor2d([[1, -1], [1, 1]])]);
    m.getLayer('y').setWeights([tf.tensor2d([[1], [-2]])]);
    const x = tf.tensor4d([1, 2], [1, 1, 1, 2]);
    const plain = saliency.inputGradients({ model: m, x, targets: [0], seed: 0 }, {} as never);
    expect(Array.from(plain.dataSync())).toEqual([3, -1]);
    const guided = guidedBackprop.inputGradients({ model: m, x, targets: [0], seed: 0 }, {} as never);
    expect(Array.from(guided.dataSync())).toEqual([1, 1]);
    // …and the ordinary ReLU gradient is back afterwards.
    expect(Array.from(saliency.inputGradients({ model: m, x, targets: [0], seed: 0 }, {} as never).dataSync())).toEqual([3, -1]);
  });

  it('Integrated Gradients on LeNet-5: completeness gap ≤ 1 %', () => {
    const m = lenet5({ seed: 7 });
    const x = tf.randomUniform([3, 28, 28, 1], 0, 1, 'float32', 8) as tf.Tensor4D;
    const r = integratedGradients.attribute({ model: m, x, targets: [0, 3, 9], seed: 0 }, { steps: 128, baseline: 'black' });
    for (const gap of r.extras!.completenessGapRelative) expect(gap).toBeLessThan(0.01);
    // The map is the channel sum of the attributions; their total is the score difference.
    expect(relError(r.maps.sum([1, 2]).dataSync(), r.extras!.scoreDifference)).toBeLessThan(0.01);
  });
});

describe('occlusion', () => {
  it('patch origins and drops match a one-image-at-a-time loop', () => {
    expect(patchOrigins(28, 4, 2)).toHaveLength(13);
    const m = lenet5({ seed: 9 });
    const x = tf.randomUniform([2, 28, 28, 1], 0, 1, 'float32', 10) as tf.Tensor4D;
    const r = occlusion.attribute({ model: m, x, targets: [1, 5], seed: 0 }, { patch: 6, stride: 5, fill: 'zero', batchSize: 7 });
    const origins = patchOrigins(28, 6, 5);
    expect(r.lowRes!.shape).toEqual([2, origins.length, origins.length]);
    const xs = x.arraySync() as number[][][][];
    const targets = [1, 5];
    const expected: number[] = [];
    for (let b = 0; b < 2; b++) {
      const p0 = (m.predict(tf.tensor4d([xs[b]])) as tf.Tensor).dataSync()[targets[b]];
      for (const oy of origins) for (const ox of origins) {
        const copy = xs[b].map((row, y) => row.map((px, xx) => (y >= oy && y < oy + 6 && xx >= ox && xx < ox + 6 ? [0] : px)));
        expected.push(p0 - (m.predict(tf.tensor4d([copy])) as tf.Tensor).dataSync()[targets[b]]);
      }
    }
    expect(relError(r.lowRes!.dataSync(), expected)).toBeLessThan(1e-4);
  });
});

describe("occlusion's automatic patch", () => {
  it('is an eighth of the shorter side with half its stride, recorded per sample', () => {
    expect(occlusionGeometry(28, 28, 'auto', 'auto')).toEqual({ patch: 4, stride: 2 });
    expect(occlusionGeometry(64, 64, 'auto', 'auto')).toEqual({ patch: 8, stride: 4 });
    expect(occlusionGeometry(224, 160, 'auto', 'auto')).toEqual({ patch: 20, stride: 10 });
    expect(occlusionGeometry(8, 8, 'auto', 3)).toEqual({ patch: 2, stride: 3 });
    expect(() => occlusionGeometry(8, 8, 9, 'auto')).toThrow('occlusion: patch 9 is larger than the 8x8 image; choose a patch of at most 8');
    const m = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [16, 16, 1] }), tf.layers.dense({ units: 2, activation: 'softmax' })] });
    const r = occlusion.attribute({ model: m, x: tf.ones([1, 16, 16, 1]) as tf.Tensor4D, targets: [0], seed: 0 }, {} as never);
    expect(r.extras).toMatchObject({ patch: [2], stride: [1] });
    expect(r.lowRes!.shape).toEqual([1, 15, 15]);
    m.dispose();
  });
});
