/**
 * TinyVGG as in CNN Explainer: two blocks of two 10@3x3 'valid' convolutions, each followed by its own ReLU
 * layer, and a 2x2 max pool; then flatten and a softmax dense layer. Layer names follow CNN Explainer
 * (`conv_1_1`, `relu_1_1`, …, `max_pool_2`, `output`), so `relu_2_2` is the Grad-CAM layer.
 * 19,920 parameters at 64x64x3 with 10 classes.
 */
import * as tf from '@tensorflow/tfjs';
import { seededInitializers } from './init.ts';

export function tinyVgg({ inputShape = [64, 64, 3] as [number, number, number], numClasses = 10, seed = 0 } = {}): tf.LayersModel {
  const init = seededInitializers(seed);
  const model = tf.sequential({ name: 'tiny_vgg' });
  for (const block of [1, 2]) {
    for (const conv of [1, 2]) {
      model.add(
        tf.layers.conv2d({
          name: `conv_${block}_${conv}`,
          ...(block === 1 && conv === 1 ? { inputShape } : {}),
          filters: 10,
          kernelSize: 3,
          ...init(),
        }),
      );
      model.add(tf.layers.reLU({ name: `relu_${block}_${conv}` }));
    }
    model.add(tf.layers.maxPooling2d({ name: `max_pool_${block}`, poolSize: 2 }));
  }
  model.add(tf.layers.flatten({ name: 'flatten' }));
  model.add(tf.layers.dense({ name: 'output', units: numClasses, activation: 'softmax', ...init() }));
  return model;
}
