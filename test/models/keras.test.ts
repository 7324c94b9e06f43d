import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { unzipSync } from 'fflate';
import { beforeAll, describe, expect, it } from 'vitest';
import { lenet5 } from '../../src/models/lenet5.ts';
import { mobileNetV2 } from '../../src/models/mobilenet-v2.ts';
import { loadAnyModel, toSnakeCase } from '../../src/models/keras.ts';
import { saveModel } from '../../src/models/io.ts';
import { relError, useBackend } from '../helpers/backends.ts';
import { writeKeras2H5, writeKeras3 } from '../helpers/keras-writers.ts';

beforeAll(async () => {
  await useBackend('wasm');
});

const tmp = () => mkdtempSync(join(tmpdir(), 'convlens-keras-'));
const predict = (m: tf.LayersModel, shape: number[]) =>
  tf.tidy(() => (m.predict(tf.randomUniform([2, ...shape], 0, 1, 'float32', 3)) as tf.Tensor).dataSync() as Float32Array);

const models = [
  ['LeNet-5 (Sequential)', () => lenet5({ seed: 4 }), [28, 28, 1]],
  ['MobileNetV2 0.35 (Functional, BatchNorm, adds)', () => mobileNetV2({ inputShape: [32, 32, 3], alpha: 0.35, numClasses: 3, head: 'imagenet' }), [32, 32, 3]],
] as const;

describe('loading Keras and tfjs models', () => {
  it('snake_case like Keras', () => {
    expect(['Conv2D', 'MaxPooling2D', 'BatchNormalization', 'ReLU', 'DepthwiseConv2D', 'ZeroPadding2D', 'GlobalAveragePooling2D', 'InputLayer'].map(toSnakeCase))
      .toEqual(['conv2d', 'max_pooling2d', 'batch_normalization', 're_lu', 'depthwise_conv2d', 'zero_padding2d', 'global_average_pooling2d', 'input_layer']);
  });

  for (const [name, build, shape] of models) {
    it(`${name}: model.json, Keras 2 .h5 and Keras 3 .keras predict within 1e-5 of the original`, async () => {
      const dir = tmp();
      const model = build();
      // Give BatchNorm non-trivial moving statistics so their loading is tested too.
      model.setWeights(model.getWeights().map((w, i) => tf.tidy(() => w.add(tf.randomUniform(w.shape, 0, 0.1, 'float32', i)))));
      const ref = predict(model, [...shape]);
      await saveModel(model, join(dir, 'tfjs'));
      await writeKeras2H5(model, join(dir, 'model.h5'));
      await writeKeras3(model, join(dir, 'model.keras'));
      for (const file of [join(dir, 'tfjs', 'model.json'), join(dir, 'model.h5'), join(dir, 'model.keras')]) {
        const loaded = await loadAnyModel(file);
        expect(loaded.layers.map((l) => l.name), file).toEqual(model.layers.map((l) => l.name));
        expect(relError(predict(loaded, [...shape]), ref), file).toBeLessThan(1e-5);
        loaded.dispose();
      }
      model.dispose();
    });
  }

  it('corrupt, truncated and incomplete files get errors naming the file and the fix', async () => {
    const dir = tmp();
    const model = lenet5({ seed: 5 });
    const h5 = join(dir, 'model.h5');
    await writeKeras2H5(model, h5);
    const bytes = readFileSync(h5);
    writeFileSync(join(dir, 'cut.h5'), bytes.subarray(0, bytes.length - 100));
    await expect(loadAnyModel(join(dir, 'cut.h5'))).rejects.toThrow(/cut.h5: truncated HDF5 file/);
    writeFileSync(join(dir, 'text.h5'), 'hello');
    await expect(loadAnyModel(join(dir, 'text.h5'))).rejects.toThrow(/text.h5: not an HDF5 file/);
    await writeKeras2H5(model, join(dir, 'weights-only.h5'), { omit: 'model_config' });
    await expect(loadAnyModel(join(dir, 'weights-only.h5'))).rejects.toThrow(/no 'model_config' attribute: this holds weights only/);
    await writeKeras2H5(model, join(dir, 'no-weights.h5'), { omit: 'model_weights' });
    await expect(loadAnyModel(join(dir, 'no-weights.h5'))).rejects.toThrow(/no-weights.h5: missing group 'model_weights'/);
    await writeKeras3(model, join(dir, 'cut.keras'), { truncate: true });
    await expect(loadAnyModel(join(dir, 'cut.keras'))).rejects.toThrow(/cut.keras: not a readable .keras \(zip\) archive/);
    await writeKeras3(model, join(dir, 'noweights.keras'), { omit: 'model.weights.h5' });
    await expect(loadAnyModel(join(dir, 'noweights.keras'))).rejects.toThrow(/noweights.keras: the archive has no model.weights.h5/);
    await expect(loadAnyModel(join(dir, 'model.tflite'))).rejects.toThrow(/unknown model type '.tflite'; expected model.json \(TensorFlow.js\), .h5 \(Keras 2\), .keras \(Keras 3\) or .onnx/);
    model.dispose();
  });

  it('NaN or infinite weights are refused, naming the layer and weight', async () => {
    const dir = tmp();
    const model = lenet5({ seed: 7 });
    const w = model.getLayer('dense_1').getWeights();
    const broken = w[0].dataSync().slice();
    broken[3] = Number.NaN;
    broken[9] = Number.POSITIVE_INFINITY;
    model.getLayer('dense_1').setWeights([tf.tensor(broken, w[0].shape), w[1]]);
    await saveModel(model, join(dir, 'nan'));
    await writeKeras2H5(model, join(dir, 'nan.h5'));
    for (const f of [join(dir, 'nan', 'model.json'), join(dir, 'nan.h5')]) {
      await expect(loadAnyModel(f)).rejects.toThrow(/weight dense_1\/kernel of layer 'dense_1' has 2 NaN or infinite values of 10080/);
    }
    model.dispose();
  });

  it('unknown layer classes are named with what to do', async () => {
    const dir = tmp();
    const model = lenet5({ seed: 6 });
    const json = model.toJSON(null, false) as unknown as { config: { layers: Array<{ class_name: string; config: { name: string } }> } };
    json.config.layers[1].class_name = 'MyFancyPool';
    await writeKeras2H5(model, join(dir, 'm.h5'));
    // Rewrite the model_config attribute with the unknown class.
    const h5wasm = (await import('h5wasm/node')).default;
    await h5wasm.ready;
    const f = new h5wasm.File(join(dir, 'm.h5'), 'a');
    f.delete_attribute('model_config');
    f.create_attribute('model_config', JSON.stringify(json));
    f.close();
    await expect(loadAnyModel(join(dir, 'm.h5'))).rejects.toThrow(/no implementation of layer 'max_pooling2d' \(MyFancyPool\)\. Replace it with built-in Keras layers/);
    model.dispose();
  });
});

describe('Keras 3 functional ends spelled as a flat triple or a dict', () => {
  it.each(['flat', 'dict'] as const)('input_layers / output_layers as %s: the same model, the same predictions', async (endpoints) => {
    const model = mobileNetV2({ inputShape: [32, 32, 3], alpha: 0.35, numClasses: 3, head: 'imagenet' });
    const path = join(tmp(), `ends-${endpoints}.keras`);
    await writeKeras3(model, path, { endpoints });
    const config = JSON.parse(new TextDecoder().decode(unzipSync(readFileSync(path))['config.json']));
    expect(Array.isArray(config.config.input_layers[0])).toBe(false);
    const loaded = await loadAnyModel(path);
    expect(loaded.inputs.map((t) => t.shape)).toEqual([[null, 32, 32, 3]]);
    expect(relError(predict(loaded, [32, 32, 3]), predict(model, [32, 32, 3]))).toBeLessThan(1e-6);
  });
});
