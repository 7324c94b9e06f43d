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
import { classifierHead, isMultiLabelHead, isSigmoidUnit, twoClassHead } from '../../src/models/heads.ts';
import { loadAnyModel } from '../../src/models/keras.ts';
import { loadedModelSpec } from '../../src/pipeline/loaded-model.ts';
import { predictFiles } from '../../src/cli/predict.ts';
import { decodeImage } from '../../src/data/folder.ts';
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

/** A multi-label head: conv → ReLU → GAP → Dense(3, sigmoid) (or Dense(3) + Activation('sigmoid')). */
function multiLabel(split: boolean): tf.LayersModel {
  const m = tf.sequential({ name: split ? 'tags_split' : 'tags' });
  m.add(tf.layers.conv2d({ name: 'conv', inputShape: [12, 12, 3], filters: 4, kernelSize: 3, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }) }));
  m.add(tf.layers.globalAveragePooling2d({ name: 'gap' }));
  m.add(tf.layers.dense({ name: 'out', units: 3, activation: split ? 'linear' : 'sigmoid', kernelInitializer: tf.initializers.glorotUniform({ seed: 6 }), biasInitializer: tf.initializers.constant({ value: 0.4 }) }));
  if (split) m.add(tf.layers.activation({ name: 'probs', activation: 'sigmoid' }));
  return m;
}

describe('k sigmoid units as a multi-label head', () => {
  it.each([false, true])('Keras 2 .h5 (activation in a separate layer: %s): each class its own probability; explanations follow each logit', async (split) => {
    const dir = tmp();
    const x = tf.randomUniform([4, 12, 12, 3], 0, 1, 'float32', 11) as tf.Tensor4D;
    const reference = writeKeras2H5Py(multiLabel(split), join(dir, 'model.h5'), { input: x })!; // σ per unit, float64
    const loaded = await loadAnyModel(join(dir, 'model.h5'));
    expect(isMultiLabelHead(loaded)).toBe(true);
    const head = classifierHead(loaded);
    expect(head).toMatchObject({ multiLabel: true, note: expect.stringContaining('multi-label') });
    expect(head.model).toBe(loaded);
    // No renormalisation: the probabilities are the units' own, and a row need not sum to 1.
    const y = (loaded.predict(x) as tf.Tensor).dataSync();
    y.forEach((p, i) => expect(p).toBeCloseTo(reference[i], 6));
    expect(Math.max(...[0, 1, 2, 3].map((r) => Math.abs(y[3 * r] + y[3 * r + 1] + y[3 * r + 2] - 1)))).toBeGreaterThan(0.05);
    // The logits are the pre-sigmoid values.
    const logits = runGraph(loaded, x, { logits: true }).output.dataSync();
    logits.forEach((z, i) => expect(1 / (1 + Math.exp(-z))).toBeCloseTo(reference[i], 6));
    // Class k's explanation follows z_k: its input gradient is the probability's divided by σ'(z) = p(1 − p),
    // the probability's gradient taken through the model's own sigmoid.
    for (const k of [0, 2]) {
      const gz = tf.grad((v: tf.Tensor) => targetScore(loaded, v, [k, k, k, k]))(x).arraySync() as number[][][][];
      const gp = tf.grad((v: tf.Tensor) => (loaded.predict(v) as tf.Tensor).slice([0, k], [-1, 1]).sum())(x).arraySync() as number[][][][];
      for (let n = 0; n < 4; n++) {
        const p = reference[3 * n + k];
        expect(gz[n][5][6][1]).toBeCloseTo(gp[n][5][6][1] / (p * (1 - p)), 5);
        expect(Math.abs(gz[n][5][6][1])).toBeGreaterThan(1e-5);
      }
    }
    loaded.dispose();
    x.dispose();
  });

  it('report: the model is marked multi-label and says so', async () => {
    const dir = tmp();
    writeKeras2H5Py(multiLabel(false), join(dir, 'model.h5'));
    await writePhotos(join(dir, 'photos'), 2);
    const spec = await loadedModelSpec({ modelPath: 'model.h5', dataDir: 'photos', classes: 'cat,outdoor,night', seed: 1, cwd: dir });
    expect(spec.multiLabel).toBe(true);
    expect(spec.architecture).toContain('multi-label: one sigmoid unit per class');
    (await spec.build()).dispose();
    // `convlens predict` prints each class's own probability, not a renormalised one.
    const { model, multiLabel: isMulti } = classifierHead(await loadAnyModel(join(dir, 'model.h5')));
    const [own] = await predictFiles(model, [join(dir, 'photos', 'IMG_2000 (red).jpg')], { classes: ['cat', 'outdoor', 'night'], multiLabel: isMulti });
    const x = tf.tensor4d(Float32Array.from(await decodeImage(join(dir, 'photos', 'IMG_2000 (red).jpg'), [12, 12], 3)).map((v) => v / 255), [1, 12, 12, 3]);
    const direct = (model.predict(x) as tf.Tensor).dataSync();
    for (const t of own.top) expect(t.probability).toBeCloseTo(direct[t.index], 6);
    expect(Math.abs(own.top.reduce((a, t) => a + t.probability, 0) - 1)).toBeGreaterThan(1e-3);
    model.dispose();
    x.dispose();
  });
});

describe('outputs that are not a class vector', () => {
  it('a feature map output (no head) is refused with what to do', async () => {
    const dir = tmp();
    const m = tf.sequential({ name: 'features' });
    m.add(tf.layers.conv2d({ name: 'conv', inputShape: [12, 12, 3], filters: 4, kernelSize: 3 }));
    writeKeras2H5Py(m, join(dir, 'model.h5'));
    await writePhotos(join(dir, 'photos'), 1);
    await expect(loadedModelSpec({ modelPath: 'model.h5', dataDir: 'photos', seed: 1, cwd: dir })).rejects.toThrow(/model\.h5: its output \[batch, 10, 10, 4\] is not one vector of class scores \[batch, classes\]; convlens explains image classifiers/);
  });
});
