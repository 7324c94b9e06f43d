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

describe('quantized weights as tensorflowjs_converter writes them (shard group1-shard1of1, no .bin)', () => {
  it.each(['uint8', 'uint16', 'float16'] as const)('%s: predictions match a float64 forward pass with the dequantized weights', async (dtype) => {
    const { colourCnn3 } = await import('../helpers/colour-model.ts');
    const { execFileSync } = await import('node:child_process');
    const dir = tmp();
    await saveModel(colourCnn3(), join(dir, 'm'));
    const w = JSON.parse(execFileSync('/usr/bin/python3', [join(import.meta.dirname, '../fixtures/quantize_weights.py'), join(dir, 'm'), join(dir, 'q'), dtype], { encoding: 'utf8' })) as Record<string, number[]>;
    const manifest = JSON.parse(readFileSync(join(dir, 'q', 'model.json'), 'utf8'));
    expect(manifest.weightsManifest[0].paths).toEqual(['group1-shard1of1']);
    expect(manifest.weightsManifest[0].weights[0].quantization.dtype).toBe(dtype);
    const loaded = await loadModel(join(dir, 'q', 'model.json'));
    // Four 8x8 RGB inputs in [0, 1], deterministic.
    const x = Array.from({ length: 4 * 8 * 8 * 3 }, (_, i) => ((i * 7919) % 1000) / 999);
    const got = tf.tidy(() => (loaded.predict(tf.tensor4d(x, [4, 8, 8, 3])) as tf.Tensor).dataSync());
    // float64: conv 1x1 (kernel [1,1,3,3], bias) → ReLU → global average → Dense (kernel [3,3], bias) → softmax.
    const [k, b, dk, db] = [w['conv/kernel'], w['conv/bias'], w['out/kernel'], w['out/bias']];
    for (let n = 0; n < 4; n++) {
      const mean = [0, 0, 0];
      for (let p = 0; p < 64; p++) {
        for (let f = 0; f < 3; f++) {
          let v = b[f];
          for (let c = 0; c < 3; c++) v += x[(n * 64 + p) * 3 + c] * k[c * 3 + f];
          mean[f] += Math.max(0, v) / 64;
        }
      }
      const logits = [0, 1, 2].map((j) => db[j] + mean.reduce((t, m, i) => t + m * dk[i * 3 + j], 0));
      const z = logits.map((l) => Math.exp(l - Math.max(...logits)));
      const p = z.map((v) => v / z.reduce((s, t) => s + t, 0));
      for (let j = 0; j < 3; j++) expect(Math.abs(got[n * 3 + j] - p[j])).toBeLessThan(1e-6);
    }
  });
});
