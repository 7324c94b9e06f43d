/**
 * ONNX models as torch.onnx.export writes them (Debian's python3-torch and python3-torchvision, exported in the test
 * setup by test/fixtures/onnx_models.py: a one-channel CNN with BatchNorm after ReLU at opsets 11 and 17 — the
 * Shape/Gather/Unsqueeze/Concat/Reshape flatten at 11 — and torchvision's ResNet-18 and MobileNetV2 with random
 * weights, dynamic batch), converted to TensorFlow.js layers models and checked against onnxruntime-node running the
 * same files (and against PyTorch's own outputs); every attribution method runs on the converted model.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { forward } from '../../src/engine/folded.ts';
import { loadAnyModel } from '../../src/models/keras.ts';
import { loadedModelSpec } from '../../src/pipeline/loaded-model.ts';
import { visualize } from '../../src/pipeline/visualize.ts';
import { ATTRIBUTION_METHODS } from '../../src/viz/registry.ts';
import { useBackend } from '../helpers/backends.ts';

const dir = mkdtempSync(join(tmpdir(), 'convlens-onnx-'));
const MODELS = ['small-cnn-11', 'small-cnn-17', 'resnet18-17', 'mobilenet_v2-11', 'grouped-13'];

beforeAll(async () => {
  await useBackend('wasm');
  const r = spawnSync('/usr/bin/python3', ['test/fixtures/onnx_models.py', dir, ...MODELS, 'gelu-11'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`exporting the ONNX fixtures failed (apt-get install python3-torch python3-torchvision python3-onnx):\n${r.stderr}`);
}, 300_000);

const floats = (file: string) => {
  const b = readFileSync(file);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
};

/** Largest absolute difference over the largest reference magnitude. */
function relMax(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / m;
}

async function onnxRuntime(file: string, nchw: Float32Array, shape: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(file);
  const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', nchw, shape) });
  return out[session.outputNames[0]].data as Float32Array;
}

describe('ONNX models exported from PyTorch', () => {
  it.each(MODELS)('%s: logits within 1e-4 of onnxruntime (and of PyTorch), at batch 2 and 3', async (name) => {
    const file = join(dir, `${name}.onnx`);
    const model = await loadAnyModel(file);
    const [h, w, c] = model.inputs[0].shape.slice(1) as number[];
    const nchw = floats(join(dir, `${name}.input.bin`));
    const x = tf.tidy(() => tf.transpose(tf.tensor4d(nchw, [2, c, h, w]), [0, 2, 3, 1]));
    const ours = (model.predict(x) as tf.Tensor).dataSync();
    const folded = forward(model, x).dataSync(); // what the report runs: batch norm folded into the convolutions
    const reference = await onnxRuntime(file, nchw, [2, c, h, w]);
    expect(relMax(ours, reference)).toBeLessThan(1e-4);
    expect(relMax(folded, reference)).toBeLessThan(1e-4);
    expect(relMax(ours, floats(join(dir, `${name}.torch.bin`)))).toBeLessThan(1e-4);
    // The batch dimension is dynamic: three images (the first again) give the same rows.
    const x3 = tf.concat([x, tf.slice(x, 0, 1)]);
    const three = (model.predict(x3) as tf.Tensor).dataSync();
    const k = reference.length / 2;
    expect(relMax(three.subarray(0, 2 * k), reference)).toBeLessThan(1e-4);
    expect(relMax(three.subarray(2 * k), reference.subarray(0, k))).toBeLessThan(1e-4);
    tf.dispose([x, x3]);
    model.dispose();
  }, 120_000);

  it('layers are named after the ONNX nodes, convolutions keep their shapes (OIHW → HWIO), ReLU6 from Clip', async () => {
    const small = await loadAnyModel(join(dir, 'small-cnn-11.onnx'));
    expect(small.layers.map((l) => l.name)).toEqual([
      'input', 'features.features.0.Conv', 'features.features.1.Relu', 'features.features.2.BatchNormalization', 'features.features.3.MaxPool',
      'features.features.4.Conv', 'features.features.5.Relu', 'features.features.6.BatchNormalization', 'features.features.7.MaxPool',
      'Reshape_nchw', 'Reshape', 'head.head.0.Gemm', 'head.head.1.Relu', 'head.head.3.Gemm',
    ]);
    expect(small.getLayer('features.features.4.Conv').getWeights()[0].shape).toEqual([3, 3, 8, 16]);
    expect(small.inputs[0].shape).toEqual([null, 28, 28, 1]);
    small.dispose();
    const mobile = await loadAnyModel(join(dir, 'mobilenet_v2-11.onnx'));
    const classes = mobile.layers.map((l) => l.getClassName());
    expect(classes.filter((k) => k === 'DepthwiseConv2D')).toHaveLength(17);
    expect(mobile.layers.filter((l) => l.getClassName() === 'ReLU' && (l.getConfig() as { maxValue?: number }).maxValue === 6)).toHaveLength(35);
    mobile.dispose();
  });

  it('an operator convlens does not convert is named with its node', async () => {
    await expect(loadAnyModel(join(dir, 'gelu-11.onnx'))).rejects.toThrow(/gelu-11\.onnx: node '.*' \((Div|Erf|Mul)\): convlens does not convert the ONNX operator (Div|Erf|Mul); it converts Conv, /);
    writeFileSync(join(dir, 'garbage.onnx'), 'not a protobuf at all');
    await expect(loadAnyModel(join(dir, 'garbage.onnx'))).rejects.toThrow(/garbage\.onnx: not an ONNX model/);
    // A download cut short: the first half of a real export.
    const whole = readFileSync(join(dir, 'small-cnn-11.onnx'));
    writeFileSync(join(dir, 'truncated.onnx'), whole.subarray(0, whole.length >> 1));
    await expect(loadAnyModel(join(dir, 'truncated.onnx'))).rejects.toThrow(/truncated\.onnx: (not an ONNX model|.*initializer)/);
  });

  it("a PyTorch model's report: logits through a softmax, Normalize's mean and std, every attribution method", async () => {
    mkdirSync(join(dir, 'photos'));
    for (const [i, colour] of ['#203040', '#d0c0b0', '#80ff10'].entries()) {
      await sharp({ create: { width: 40, height: 32, channels: 3, background: colour } }).composite([{ input: Buffer.from('<svg width="20" height="14"><circle cx="10" cy="7" r="6" fill="white"/></svg>'), left: 8 + i, top: 6 }]).png().toFile(join(dir, 'photos', `p${i}.png`));
    }
    const spec = await loadedModelSpec({ modelPath: 'small-cnn-17.onnx', dataDir: 'photos', scaling: 'mean=0.5/std=0.25', seed: 1, cwd: dir });
    expect(spec.architecture).toContain('its logits read through a softmax');
    expect(spec.test.range).toEqual([-2, 2]);
    const model = await spec.build();
    const probs = (model.predict(tf.zeros([1, 28, 28, 1])) as tf.Tensor).dataSync();
    expect(Array.from(probs).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    const v = await visualize({
      model, slug: 'onnx-test', data: spec.test, sampleIndices: [0, 1], publicDir: mkdtempSync(join(tmpdir(), 'convlens-onnx-vis-')), seed: 1,
      actmax: { maxChannels: 1, steps: 2 }, budget: false,
      methodParams: { 'smoothgrad-saliency': { samples: 2 }, 'integrated-gradients': { steps: 4 }, rise: { masks: 40 } },
    });
    for (const s of v.samples) {
      expect(s.attributions.map((a) => a.method).sort()).toEqual(ATTRIBUTION_METHODS.map((m) => m.id).sort());
      expect(s.attributions.every((a) => Number.isFinite(a.faithfulness?.deletionAuc ?? Number.NaN))).toBe(true);
    }
    model.dispose();
    // Three means for a one-channel model is an error naming the option.
    await expect(loadedModelSpec({ modelPath: 'small-cnn-17.onnx', dataDir: 'photos', scaling: 'mean=0.5,0.5,0.5/std=0.2,0.2,0.2', seed: 1, cwd: dir }))
      .rejects.toThrow(/--scale: 3 means and stds for a model with 1 input channel/);
  }, 300_000);
});
