/**
 * Model files as the tools that make them write them (issue: the user's path). Keras 2 .h5 files are written by
 * h5py following Keras 2's saving code (test/fixtures/keras2_h5.py: empty `weight_names` as float64 (0,),
 * fixed- and variable-length strings, chunked name lists, training config and optimizer weights, nested models
 * in Keras 2's weight order) and checked against a float64 NumPy forward pass; Keras 3 .keras archives with a
 * nested Functional base; Teachable Machine's nested model.json with its metadata.json.
 */
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { flattenModel, nestingOf } from '../../src/models/flatten.ts';
import { loadAnyModel } from '../../src/models/keras.ts';
import { loadModel, saveModel } from '../../src/models/io.ts';
import { loadedModelSpec } from '../../src/pipeline/loaded-model.ts';
import { defaultCamLayer } from '../../src/viz/graph.ts';
import { relError, useBackend } from '../helpers/backends.ts';
import { H5PY_PYTHON, writeKeras2H5Py } from '../helpers/keras2-h5.ts';
import { writeKeras3 } from '../helpers/keras-writers.ts';
import { teachableModel, tutorialTransferModel, writePhotos, writeTeachableExport } from '../helpers/teachable.ts';

beforeAll(async () => {
  await useBackend('cpu');
});

const tmp = () => mkdtempSync(join(tmpdir(), 'convlens-conventions-'));
const input = (m: tf.LayersModel) => tf.randomUniform([3, ...(m.inputs[0].shape.slice(1) as number[])] as [number, number, number, number], -1, 1, 'float32', 5) as tf.Tensor4D;
const predict = (m: tf.LayersModel, x: tf.Tensor) => tf.tidy(() => (m.predict(x) as tf.Tensor).dataSync() as Float32Array);

/** A plain CNN with weightless layers (pooling, flatten) between weighted ones. */
function plainCnn(): tf.Sequential {
  const m = tf.sequential({ name: 'sequential' });
  m.add(tf.layers.conv2d({ name: 'conv2d', inputShape: [12, 12, 3], filters: 4, kernelSize: 3, activation: 'relu' }));
  m.add(tf.layers.maxPooling2d({ name: 'max_pooling2d', poolSize: 2 }));
  m.add(tf.layers.batchNormalization({ name: 'batch_normalization' }));
  m.add(tf.layers.flatten({ name: 'flatten' }));
  m.add(tf.layers.dense({ name: 'dense', units: 3, activation: 'softmax' }));
  m.getLayer('batch_normalization').setWeights([tf.fill([4], 1.1), tf.fill([4], 0.1), tf.fill([4], 0.2), tf.fill([4], 1.7)]);
  return m;
}

describe.runIf(H5PY_PYTHON)('Keras 2 .h5 as h5py writes it, against a float64 reference', () => {
  const cases: Array<[string, () => tf.LayersModel, Parameters<typeof writeKeras2H5Py>[2]]> = [
    ['weightless layers (empty float64 weight_names), fixed-length strings', plainCnn, { strings: 'fixed' }],
    ['variable-length strings, training config and optimizer weights', plainCnn, { strings: 'vlen', trainingConfig: true }],
    ["a Sequential config listing its InputLayer first (tf.keras ≥ 2.4, as in public Keras 2.11 files)", plainCnn, { strings: 'vlen', sequentialInputLayer: true }],
    ['name lists split into chunks (weight_names0, weight_names1, …)', () => teachableModel(16, 3), { headerLimit: 120 }],
    ['a nested Sequential base and head (Teachable Machine in Keras)', () => teachableModel(16, 3), {}],
    ["the tutorials' Sequential([functional base, Flatten, Dense])", () => tutorialTransferModel(8, 3), {}],
    ['a frozen functional base (Keras 2 saves its weights in another order)', () => tutorialTransferModel(8, 3, { frozenBase: true }), {}],
  ];
  for (const [name, build, opts] of cases) {
    it(name, async () => {
      const model = build();
      const x = input(model);
      const file = join(tmp(), 'model.h5');
      const reference = writeKeras2H5Py(model, file, { ...opts, input: x })!;
      const loaded = await loadAnyModel(file);
      expect(relError(predict(loaded, x), reference)).toBeLessThan(1e-5);
      // Opened up for the report, it predicts the same.
      const flat = flattenModel(loaded);
      expect(relError(predict(flat, x), reference)).toBeLessThan(1e-5);
      tf.dispose([x]);
      if (flat !== loaded) flat.dispose();
      loaded.dispose();
      model.dispose();
    });
  }

  it('the chunked case really has chunks, and weight_names of a weightless layer is float64 (0,)', async () => {
    const { spawnSync } = await import('node:child_process');
    const dir = tmp();
    writeKeras2H5Py(teachableModel(16, 3), join(dir, 'chunked.h5'), { headerLimit: 120 });
    writeKeras2H5Py(plainCnn(), join(dir, 'plain.h5'));
    const probe = spawnSync(H5PY_PYTHON!, ['-c', [
      'import h5py, sys',
      `f = h5py.File("${join(dir, 'chunked.h5')}")`,
      'print(sorted(k for k in f["model_weights/sequential_1"].attrs if k.startswith("weight_names")))',
      `g = h5py.File("${join(dir, 'plain.h5')}")["model_weights/max_pooling2d"].attrs["weight_names"]`,
      'print(g.dtype, g.shape)',
    ].join('\n')], { encoding: 'utf8' });
    const [chunks, empty] = probe.stdout.trim().split('\n');
    expect(chunks).toMatch(/'weight_names0', 'weight_names1'/);
    expect(empty).toBe('float64 (0,)');
  });
});

describe('Keras 3 .keras with a nested Functional base', () => {
  it('loads layers/<model>/layers/<layer>/vars and predicts like the original (and the float64 reference)', async () => {
    const model = tutorialTransferModel(8, 3);
    const x = input(model);
    const dir = tmp();
    await writeKeras3(model, join(dir, 'model.keras'));
    const loaded = await loadAnyModel(join(dir, 'model.keras'));
    expect(loaded.layers.map((l) => l.getClassName())).toContain('Functional');
    expect(relError(predict(loaded, x), predict(model, x))).toBeLessThan(1e-5);
    if (H5PY_PYTHON) {
      // The float64 NumPy forward pass of the same weights (written to a Keras 2 file on the way).
      const reference = writeKeras2H5Py(model, join(dir, 'reference.h5'), { input: x })!;
      expect(relError(predict(loaded, x), reference)).toBeLessThan(1e-5);
    }
    const flat = flattenModel(loaded);
    expect(flat.layers.map((l) => l.name)).toContain('block2_add');
    expect(relError(predict(flat, x), predict(model, x))).toBeLessThan(1e-5);
  });
});

describe('nested models opened for the report', () => {
  it('Teachable Machine: two nested Sequentials flattened, predictions unchanged, nesting kept', async () => {
    const dir = tmp();
    const model = teachableModel(24, 3);
    await writeTeachableExport(model, join(dir, 'tm'), ['cat', 'dog', 'bird']);
    const loaded = await loadModel(join(dir, 'tm', 'model.json'));
    expect(loaded.layers.map((l) => l.name)).toEqual(['sequential_1', 'sequential_3']);
    const flat = flattenModel(loaded);
    const x = input(model);
    expect(relError(predict(flat, x), predict(model, x))).toBeLessThan(1e-6);
    expect(flat.layers.map((l) => l.name)).toEqual([
      expect.any(String), 'Conv1', 'bn_Conv1', 'Conv1_relu', 'expanded_conv_depthwise', 'expanded_conv_depthwise_BN', 'expanded_conv_depthwise_relu',
      'expanded_conv_project', 'expanded_conv_project_BN', 'out_relu', 'global_average_pooling2d_GlobalAveragePooling2D1', 'dense_Dense1', 'dense_Dense2',
    ]);
    expect(nestingOf(flat)!.get('Conv1')).toEqual(['sequential_1']);
    expect(nestingOf(flat)!.get('dense_Dense2')).toEqual(['sequential_3']);
    // The CAM layer is found inside the base.
    expect(defaultCamLayer(flat)).toBe('out_relu');
  });

  it('a frozen nested base stays frozen layer by layer; clashing names are renamed after their model', async () => {
    const frozen = flattenModel(tutorialTransferModel(8, 3, { frozenBase: true }));
    expect(frozen.getLayer('block1_conv1').trainable).toBe(false);
    expect(frozen.getLayer('predictions').trainable).toBe(true);
    const a = tf.sequential({ name: 'a' });
    a.add(tf.layers.dense({ name: 'dense', inputShape: [4], units: 4 }));
    const b = tf.sequential({ name: 'b' });
    b.add(tf.layers.dense({ name: 'dense', inputShape: [4], units: 2 }));
    const outer = tf.sequential({ name: 'outer' });
    outer.add(a);
    outer.add(b);
    const flat = flattenModel(outer);
    expect(flat.layers.slice(1).map((l) => l.name)).toEqual(['dense', 'b_dense']);
    const x = tf.randomNormal([2, 4], 0, 1, 'float32', 1);
    expect(relError(predict(flat, x), predict(outer, x))).toBeLessThan(1e-6);
  });

  it("a Teachable Machine export's metadata.json gives the class names and [-1, 1] inputs", async () => {
    const dir = tmp();
    await writeTeachableExport(teachableModel(24, 3), join(dir, 'tm'), ['cat', 'dog', 'bird']);
    await writePhotos(join(dir, 'photos'), 4);
    const spec = await loadedModelSpec({ modelPath: 'tm/model.json', dataDir: 'photos', seed: 1, cwd: dir });
    expect(spec.test.classes).toEqual(['cat', 'dog', 'bird']);
    expect(spec.test.range).toEqual([-1, 1]);
    expect(spec.labeled).toBe(false);
    expect(spec.title).toBe('tm');
    expect(spec.description).not.toContain(dir);
    const model = await spec.build();
    expect(model.layers.length).toBe(13);
    model.dispose();
    // At most samples.max photos, in file-name order; the rest are counted and said.
    const limited = await loadedModelSpec({ modelPath: 'tm/model.json', dataDir: 'photos', seed: 1, cwd: dir, samplesMax: 3 });
    expect([limited.test.count, limited.omittedSamples, limited.test.ids]).toEqual([3, 1, ['IMG_2000 (red).jpg', 'IMG_2001 (green).jpg', 'IMG_2002 (blue).jpg']]);
    expect(limited.description).toContain('the first 3 of 4, in file-name order');
    (await limited.build()).dispose();
  });

  it("Teachable Machine's Keras export: labels.txt beside keras_model.h5 gives the names (indices dropped) and [-1, 1]", async () => {
    const dir = tmp();
    mkdirSync(join(dir, 'tm-keras'));
    writeKeras2H5Py(teachableModel(24, 3), join(dir, 'tm-keras', 'keras_model.h5'));
    writeFileSync(join(dir, 'tm-keras', 'labels.txt'), '0 Mango\n1 Granny Smith\n2 Pear\n');
    await writePhotos(join(dir, 'photos'), 2);
    const spec = await loadedModelSpec({ modelPath: 'tm-keras/keras_model.h5', dataDir: 'photos', seed: 1, cwd: dir });
    expect([spec.test.classes, spec.test.range]).toEqual([['Mango', 'Granny Smith', 'Pear'], [-1, 1]]);
    (await spec.build()).dispose();
    // Another name for the model, or lines that are not numbered 0, 1, 2: the names as written, and /255.
    copyFileSync(join(dir, 'tm-keras', 'keras_model.h5'), join(dir, 'tm-keras', 'fruit.h5'));
    const renamed = await loadedModelSpec({ modelPath: 'tm-keras/fruit.h5', dataDir: 'photos', seed: 1, cwd: dir });
    expect([renamed.test.classes, renamed.test.range]).toEqual([['Mango', 'Granny Smith', 'Pear'], [0, 1]]);
    (await renamed.build()).dispose();
    writeFileSync(join(dir, 'tm-keras', 'labels.txt'), '1 Mango\n2 Granny Smith\n3 Pear\n');
    const odd = await loadedModelSpec({ modelPath: 'tm-keras/keras_model.h5', dataDir: 'photos', seed: 1, cwd: dir });
    expect([odd.test.classes, odd.test.range]).toEqual([['1 Mango', '2 Granny Smith', '3 Pear'], [0, 1]]);
    (await odd.build()).dispose();
  });

  it('a labels file given with --classes: numbered lines lose their indices, others are kept whole', async () => {
    const dir = tmp();
    await writeTeachableExport(teachableModel(24, 3), join(dir, 'tm'), ['cat', 'dog', 'bird']);
    await writePhotos(join(dir, 'photos'), 4);
    // A labels file overrides metadata.json; a wrong count names both files.
    writeFileSync(join(dir, 'labels.txt'), 'a\nb\n');
    await expect(loadedModelSpec({ modelPath: 'tm/model.json', dataDir: 'photos', classes: 'labels.txt', seed: 1, cwd: dir }))
      .rejects.toThrow(/2 classes \(a, b\) from the given classes, but .*tm\/model.json has 3 outputs/);
    writeFileSync(join(dir, 'labels.txt'), '0 a b\n1 c\n2 10 d\n');
    const numbered = await loadedModelSpec({ modelPath: 'tm/model.json', dataDir: 'photos', classes: 'labels.txt', seed: 1, cwd: dir });
    expect(numbered.test.classes).toEqual(['a b', 'c', '10 d']);
    (await numbered.build()).dispose();
    writeFileSync(join(dir, 'labels.txt'), '0 a\n2 b\n1 c\n');
    const unordered = await loadedModelSpec({ modelPath: 'tm/model.json', dataDir: 'photos', classes: 'labels.txt', seed: 1, cwd: dir });
    expect(unordered.test.classes).toEqual(['0 a', '2 b', '1 c']);
    (await unordered.build()).dispose();
  });
});
