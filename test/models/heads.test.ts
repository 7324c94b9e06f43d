/**
 * A binary classifier's single sigmoid unit read as two classes [1 − p, p] (src/models/heads.ts): the Keras
 * tutorials' `Dense(1, activation='sigmoid')` and `Dense(1)` + `Activation('sigmoid')`, written as Keras 2 .h5 through
 * h5py and checked against a float64 NumPy forward pass; the logits explanations differentiate are [−z, z].
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { runGraph } from '../../src/engine/graph.ts';
import { isSigmoidUnit, twoClassHead } from '../../src/models/heads.ts';
import { loadAnyModel } from '../../src/models/keras.ts';
import { loadedModelSpec } from '../../src/pipeline/loaded-model.ts';
import { targetScore } from '../../src/viz/target.ts';
import { useBackend } from '../helpers/backends.ts';
import { writeKeras2H5Py } from '../helpers/keras2-h5.ts';
import { writePhotos } from '../helpers/teachable.ts';

beforeAll(async () => {
  await useBackend('wasm');
});

/** The cats-vs-dogs tutorial's shape, small: conv → ReLU → GAP → Dense(1, sigmoid) (or Dense(1) + Activation). */
function binary(split: boolean): tf.LayersModel {
  const m = tf.sequential({ name: split ? 'binary_split' : 'binary' });
  m.add(tf.layers.conv2d({ name: 'conv', inputShape: [12, 12, 3], filters: 4, kernelSize: 3, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }));
  m.add(tf.layers.globalAveragePooling2d({ name: 'gap' }));
  m.add(tf.layers.dense({ name: 'out', units: 1, activation: split ? 'linear' : 'sigmoid', kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }), biasInitializer: tf.initializers.constant({ value: 0.3 }) }));
  if (split) m.add(tf.layers.activation({ name: 'prob', activation: 'sigmoid' }));
  return m;
}

const tmp = () => mkdtempSync(join(tmpdir(), 'convlens-heads-'));

describe('one sigmoid unit as two classes', () => {
  it.each([false, true])('Keras 2 .h5 (activation in a separate layer: %s): [1 − p, p] against a float64 forward pass', async (split) => {
    const dir = tmp();
    const x = tf.randomUniform([5, 12, 12, 3], 0, 1, 'float32', 9) as tf.Tensor4D;
    const reference = writeKeras2H5Py(binary(split), join(dir, 'model.h5'), { input: x })!; // p per image, float64
    const loaded = await loadAnyModel(join(dir, 'model.h5'));
    expect(isSigmoidUnit(loaded)).toBe(true);
    const model = twoClassHead(loaded);
    expect(model.outputs[0].shape).toEqual([null, 2]);
    const y = (model.predict(x) as tf.Tensor).arraySync() as number[][];
    y.forEach(([q, p], i) => {
      expect(p).toBeCloseTo(reference[i], 6);
      expect(q).toBeCloseTo(1 - reference[i], 6);
    });
    // The logits are [−z, z] with p = σ(z).
    const logits = runGraph(model, x, { logits: true }).output.arraySync() as number[][];
    logits.forEach(([a, z], i) => {
      expect(a).toBeCloseTo(-z, 6);
      expect(1 / (1 + Math.exp(-z))).toBeCloseTo(reference[i], 6);
    });
    // Class 1's explanation follows +z, class 0's −z: input gradients are each other's negatives.
    const g1 = tf.grad((v: tf.Tensor) => targetScore(model, v, [1, 1, 1, 1, 1]))(x).dataSync();
    const g0 = tf.grad((v: tf.Tensor) => targetScore(model, v, [0, 0, 0, 0, 0]))(x).dataSync();
    expect(Math.max(...g1.map(Math.abs))).toBeGreaterThan(1e-4);
    g1.forEach((v, i) => expect(g0[i]).toBeCloseTo(-v, 7));
    model.dispose();
    x.dispose();
  });

  it('a softmax model and a two-unit sigmoid model are left as they are', () => {
    const m = tf.sequential();
    m.add(tf.layers.dense({ inputShape: [3], units: 2, activation: 'softmax' }));
    expect(twoClassHead(m)).toBe(m);
    const two = tf.sequential();
    two.add(tf.layers.dense({ inputShape: [3], units: 2, activation: 'sigmoid' }));
    expect(twoClassHead(two)).toBe(two);
    m.dispose();
    two.dispose();
  });

  it('report: class folders name the two classes (sorted: class 1 is the second), and the pages say how the head is read', async () => {
    const dir = tmp();
    writeKeras2H5Py(binary(false), join(dir, 'model.h5'));
    for (const c of ['cat', 'dog']) {
      mkdirSync(join(dir, 'test', c), { recursive: true });
      await writePhotos(join(dir, 'test', c), 2);
    }
    const spec = await loadedModelSpec({ modelPath: 'model.h5', dataDir: 'test', seed: 1, cwd: dir });
    expect(spec.test.classes).toEqual(['cat', 'dog']);
    expect(spec.architecture).toContain('its sigmoid unit read as two classes');
    const model = await spec.build();
    expect(model.outputs[0].shape).toEqual([null, 2]);
    model.dispose();
    // Two names for one unit are accepted (they were refused as "2 classes but 1 output").
    const named = await loadedModelSpec({ modelPath: 'model.h5', dataDir: 'test', classes: 'cat,dog', seed: 1, cwd: dir });
    expect(named.test.numClasses).toBe(2);
    (await named.build()).dispose();
  });
});
