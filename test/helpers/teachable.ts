/**
 * Models shaped like the ones users bring, built with tfjs so the files are written the way tfjs writes them:
 * - a Teachable Machine image model: one Sequential holding two Sequential models — a MobileNet-style base
 *   (Conv1 → bn_Conv1 → Conv1_relu (ReLU6) → depthwise → BN → ReLU6 → pointwise → BN → ReLU6 → GAP) and a
 *   head (dense_Dense1 → dense_Dense2 softmax) — with a metadata.json holding `labels` beside model.json;
 * - the Keras tutorials' transfer model: Sequential([functional base, Flatten, Dense]).
 * Weights are seeded and the BatchNorm statistics are set away from 0/1, so a loader that swaps them is caught.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { saveModel } from '../../src/models/io.ts';

/** Give every weight seeded values; BatchNorm gets distinct gamma/beta/mean/variance. */
export function seedWeights(model: tf.LayersModel, seed = 7): void {
  let k = seed;
  const visit = (layer: tf.layers.Layer) => {
    if (layer instanceof tf.LayersModel) return layer.layers.forEach(visit);
    const ws = layer.weights.map((w, i) => {
      const name = w.originalName;
      const shape = w.shape as number[];
      if (/gamma$/.test(name)) return tf.randomUniform(shape, 0.8, 1.2, 'float32', k++);
      if (/beta$/.test(name)) return tf.randomUniform(shape, -0.2, 0.2, 'float32', k++);
      if (/moving_mean$/.test(name)) return tf.randomUniform(shape, -0.3, 0.3, 'float32', k++);
      if (/moving_variance$/.test(name)) return tf.randomUniform(shape, 0.5, 2, 'float32', k++);
      const fanIn = shape.slice(0, -1).reduce((a, b) => a * b, 1) || 1;
      return tf.randomNormal(shape, 0, (i === 0 ? 1.5 : 0.1) / Math.sqrt(fanIn), 'float32', k++);
    });
    if (ws.length) layer.setWeights(ws);
    tf.dispose(ws);
  };
  model.layers.forEach(visit);
}

/** A Teachable-Machine-style nested model at `size`×`size`×3 with `classes` outputs. */
export function teachableModel(size: number, classes: number, width = 8): tf.Sequential {
  const base = tf.sequential({ name: 'sequential_1' });
  base.add(tf.layers.conv2d({ name: 'Conv1', inputShape: [size, size, 3], filters: width, kernelSize: 3, strides: 2, padding: 'same', useBias: false }));
  base.add(tf.layers.batchNormalization({ name: 'bn_Conv1' }));
  base.add(tf.layers.reLU({ name: 'Conv1_relu', maxValue: 6 }));
  base.add(tf.layers.depthwiseConv2d({ name: 'expanded_conv_depthwise', kernelSize: 3, padding: 'same', useBias: false }));
  base.add(tf.layers.batchNormalization({ name: 'expanded_conv_depthwise_BN' }));
  base.add(tf.layers.reLU({ name: 'expanded_conv_depthwise_relu', maxValue: 6 }));
  base.add(tf.layers.conv2d({ name: 'expanded_conv_project', filters: width * 2, kernelSize: 1, useBias: false }));
  base.add(tf.layers.batchNormalization({ name: 'expanded_conv_project_BN' }));
  base.add(tf.layers.reLU({ name: 'out_relu', maxValue: 6 }));
  base.add(tf.layers.globalAveragePooling2d({ name: 'global_average_pooling2d_GlobalAveragePooling2D1' }));
  const head = tf.sequential({ name: 'sequential_3' });
  head.add(tf.layers.dense({ name: 'dense_Dense1', inputShape: [width * 2], units: 10, activation: 'relu' }));
  head.add(tf.layers.dense({ name: 'dense_Dense2', units: classes, activation: 'softmax', useBias: false }));
  const model = tf.sequential({ name: 'sequential_4' });
  model.add(base);
  model.add(head);
  seedWeights(model);
  return model;
}

/** Keras tutorials' transfer learning: Sequential([functional base (conv, BN, ReLU, pool), Flatten, Dense]). */
export function tutorialTransferModel(size: number, classes: number, opts: { frozenBase?: boolean } = {}): tf.Sequential {
  const input = tf.input({ shape: [size, size, 3], name: 'input_1' });
  let x = tf.layers.conv2d({ name: 'block1_conv1', filters: 4, kernelSize: 3, padding: 'same' }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: 'block1_bn' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.activation({ name: 'block1_relu', activation: 'relu' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ name: 'block1_pool', poolSize: 2 }).apply(x) as tf.SymbolicTensor;
  const branch = tf.layers.conv2d({ name: 'block2_conv1', filters: 4, kernelSize: 1 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.add({ name: 'block2_add' }).apply([x, branch]) as tf.SymbolicTensor;
  const base = tf.model({ inputs: input, outputs: x, name: 'vgg_like_base' });
  if (opts.frozenBase) base.trainable = false;
  const model = tf.sequential({ name: 'transfer' });
  model.add(base);
  model.add(tf.layers.flatten({ name: 'flatten' }));
  model.add(tf.layers.dense({ name: 'predictions', units: classes, activation: 'softmax' }));
  seedWeights(model, 11);
  return model;
}

/** Teachable Machine's export: model.json + weights.bin + metadata.json with labels, in `dir`. */
export async function writeTeachableExport(model: tf.LayersModel, dir: string, labels: string[]): Promise<void> {
  await saveModel(model, dir);
  writeFileSync(join(dir, 'metadata.json'), JSON.stringify({
    tfjsVersion: '1.3.1', tmVersion: '2.4.10', packageVersion: '0.8.4-alpha2', packageName: '@teachablemachine/image',
    timeStamp: '2026-01-01T00:00:00.000Z', userMetadata: {}, modelName: 'tm-my-image-model', labels, imageSize: 224,
  }));
}

/** `count` photos (JPEG, 3:2, different sizes) of coloured squares on grey, named like a phone's camera roll. */
export async function writePhotos(dir: string, count: number): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const colours = ['#d02020', '#20b020', '#2040d0'];
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const w = 60 + 6 * (i % 4);
    const h = Math.round(w * 2 / 3);
    const square = await sharp({ create: { width: 16, height: 16, channels: 3, background: colours[i % 3] } }).png().toBuffer();
    const name = `IMG_${String(2000 + i)} (${i % 3 === 0 ? 'red' : i % 3 === 1 ? 'green' : 'blue'}).jpg`;
    await sharp({ create: { width: w, height: h, channels: 3, background: '#777777' } })
      .composite([{ input: square, left: 4 + 3 * (i % 7), top: 6 + (i % 3) * 4 }]).jpeg({ quality: 90 }).toFile(join(dir, name));
    names.push(name);
  }
  return names;
}
