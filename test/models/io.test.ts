import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { lenet5 } from '../../src/models/lenet5.ts';
import { mobileNetV2 } from '../../src/models/mobilenet-v2.ts';
import { loadModel, saveModel } from '../../src/models/io.ts';
import { relError, useBackend } from '../helpers/backends.ts';

beforeAll(async () => {
  await useBackend('wasm');
});

const tmp = () => mkdtempSync(join(tmpdir(), 'convlens-io-'));

function predict(model: tf.LayersModel, shape: number[]): Float32Array {
  return tf.tidy(() => (model.predict(tf.randomUniform([3, ...shape], 0, 1, 'float32', 5)) as tf.Tensor).dataSync() as Float32Array);
}

describe('tfjs layers format on disk', () => {
  it.each([
    ['LeNet-5', () => lenet5({ seed: 1 }), [28, 28, 1]],
    ['MobileNetV2 0.35 (functional, BatchNorm, residual adds)', () => mobileNetV2({ inputShape: [32, 32, 3], alpha: 0.35, numClasses: 3, head: 'transfer' }), [32, 32, 3]],
  ] as const)('%s predicts the same after save and load', async (_, build, shape) => {
    const dir = tmp();
    const model = build();
    await saveModel(model, join(dir, 'm'));
    const loaded = await loadModel(join(dir, 'm', 'model.json'));
    expect(loaded.layers.map((l) => l.name)).toEqual(model.layers.map((l) => l.name));
    expect(relError(predict(loaded, [...shape]), predict(model, [...shape]))).toBeLessThan(1e-5);
    model.dispose();
    loaded.dispose();
  });

  it('writes the same bytes twice (no dates)', async () => {
    const dir = tmp();
    const model = lenet5({ seed: 2 });
    await saveModel(model, join(dir, 'a'));
    await saveModel(model, join(dir, 'b'));
    for (const f of ['model.json', 'weights.bin']) {
      expect(readFileSync(join(dir, 'a', f)).equals(readFileSync(join(dir, 'b', f)))).toBe(true);
    }
    model.dispose();
  });

  it('names the file for missing, short and malformed inputs', async () => {
    const dir = tmp();
    const model = lenet5({ seed: 3 });
    await saveModel(model, join(dir, 'm'));
    model.dispose();
    const json = join(dir, 'm', 'model.json');
    const bin = join(dir, 'm', 'weights.bin');
    const weights = readFileSync(bin);
    writeFileSync(bin, weights.subarray(0, 1000));
    await expect(loadModel(json)).rejects.toThrow(new RegExp(`${bin}: 1000 bytes of weights, but .*describes ${weights.length}`));
    rmSync(bin);
    await expect(loadModel(json)).rejects.toThrow(new RegExp(`${bin}: weight shard listed in .* cannot be read \\(ENOENT\\)`));
    writeFileSync(json, '{"modelTopology": ');
    await expect(loadModel(json)).rejects.toThrow(/model.json: not valid JSON/);
    writeFileSync(json, '{"format": "graph-model", "modelTopology": {}}');
    await expect(loadModel(json)).rejects.toThrow(/graph model/);
    await expect(loadModel(join(dir, 'none.json'))).rejects.toThrow(/none.json: cannot read \(ENOENT\)/);
  });
});
