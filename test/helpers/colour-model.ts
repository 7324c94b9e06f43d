/** The loaded-model tests' model and images: a colour classifier that is exactly right on its two folders. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { saveModel } from '../../src/models/io.ts';

/** 8x8 RGB → conv 1x1 (red − blue, blue − red) ReLU → GAP → Dense softmax: class 0 = blue, 1 = red (sorted folder names). */
export function colourCnn(): tf.LayersModel {
  const m = tf.sequential({ name: 'colour_cnn' });
  m.add(tf.layers.conv2d({ name: 'conv', inputShape: [8, 8, 3], filters: 2, kernelSize: 1, activation: 'relu' }));
  m.add(tf.layers.globalAveragePooling2d({ name: 'gap' }));
  m.add(tf.layers.dense({ name: 'out', units: 2, activation: 'softmax' }));
  m.getLayer('conv').setWeights([tf.tensor4d([1, -1, 0, 0, -1, 1], [1, 1, 3, 2]), tf.tensor1d([0, 0])]);
  m.getLayer('out').setWeights([tf.tensor2d([[-4, 4], [4, -4]]), tf.tensor1d([0, 0])]);
  return m;
}


/** `dir`/colour/model.json and `dir`/images/{blue,red}/{0,1,2}.png: a coloured square on grey, at a different place each time. */
export async function writeColourFixture(dir: string): Promise<void> {
  await saveModel(colourCnn(), join(dir, 'colour'));
  for (const [cls, colour] of [['blue', '#2030e0'], ['red', '#e03020']] as const) {
    mkdirSync(join(dir, 'images', cls), { recursive: true });
    for (let i = 0; i < 3; i++) {
      const square = await sharp({ create: { width: 6, height: 6, channels: 3, background: colour } }).png().toBuffer();
      await sharp({ create: { width: 16, height: 16, channels: 3, background: '#808080' } })
        .composite([{ input: square, left: 2 + 3 * i, top: 5 }]).png().toFile(join(dir, 'images', cls, `${i}.png`));
    }
  }
}

/**
 * Three colours (blue, green, red: sorted folder names): conv 1x1 (each colour minus the other two) ReLU → GAP →
 * Dense softmax. `swap` exchanges two output columns (kernel and bias), as a retrain that mixed up two labels would:
 * exactly the images of those two classes change their prediction.
 */
export function colourCnn3(swap?: [number, number]): tf.LayersModel {
  const m = tf.sequential({ name: 'colour_cnn3' });
  m.add(tf.layers.conv2d({ name: 'conv', inputShape: [8, 8, 3], filters: 3, kernelSize: 1, activation: 'relu' }));
  m.add(tf.layers.globalAveragePooling2d({ name: 'gap' }));
  m.add(tf.layers.dense({ name: 'out', units: 3, activation: 'softmax' }));
  // Filter k (blue, green, red) = its colour's channel minus the other two; input channels are R, G, B.
  const conv = [[-1, -1, 1], [-1, 1, -1], [1, -1, -1]]; // [input channel][filter]
  m.getLayer('conv').setWeights([tf.tensor4d(conv.flat(), [1, 1, 3, 3]), tf.tensor1d([0, 0, 0])]);
  const kernel = [[4, -2, -2], [-2, 4, -2], [-2, -2, 4]];
  const bias = [0.1, 0.2, 0.3];
  if (swap) {
    const [i, j] = swap;
    for (const row of kernel) [row[i], row[j]] = [row[j], row[i]];
    [bias[i], bias[j]] = [bias[j], bias[i]];
  }
  m.getLayer('out').setWeights([tf.tensor2d(kernel), tf.tensor1d(bias)]);
  return m;
}

/** `dir`/images/{blue,green,red}/{0,1}.png: a coloured square on grey, at a different place each time. */
export async function writeColourImages3(dir: string): Promise<void> {
  for (const [cls, colour] of [['blue', '#2030e0'], ['green', '#20c030'], ['red', '#e03020']] as const) {
    mkdirSync(join(dir, 'images', cls), { recursive: true });
    for (let i = 0; i < 2; i++) {
      const square = await sharp({ create: { width: 6, height: 6, channels: 3, background: colour } }).png().toBuffer();
      await sharp({ create: { width: 16, height: 16, channels: 3, background: '#808080' } })
        .composite([{ input: square, left: 2 + 5 * i, top: 3 + 4 * i }]).png().toFile(join(dir, 'images', cls, `${i}.png`));
    }
  }
}
