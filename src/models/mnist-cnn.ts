/**
 * The MNIST CNN of the TensorFlow.js tutorial: conv 32@5x5 same relu → maxpool 2 → conv 64@5x5 same relu → maxpool 2 → flatten
 * → dense 1024 / 256 / 50 relu, each followed by dropout 0.5 → dense 10 softmax. Keras default names.
 * 3,540,144 parameters at 28x28x1.
 */
import * as tf from '@tensorflow/tfjs';
import { seededInitializers } from './init.ts';

export function mnistCnn({ inputShape = [28, 28, 1] as [number, number, number], numClasses = 10, seed = 0 } = {}): tf.LayersModel {
  const init = seededInitializers(seed);
  const model = tf.sequential({ name: 'mnist_cnn' });
  model.add(tf.layers.conv2d({ name: 'conv2d', inputShape, filters: 32, kernelSize: 5, padding: 'same', activation: 'relu', ...init() }));
  model.add(tf.layers.maxPooling2d({ name: 'max_pooling2d', poolSize: 2 }));
  model.add(tf.layers.conv2d({ name: 'conv2d_1', filters: 64, kernelSize: 5, padding: 'same', activation: 'relu', ...init() }));
  model.add(tf.layers.maxPooling2d({ name: 'max_pooling2d_1', poolSize: 2 }));
  model.add(tf.layers.flatten({ name: 'flatten' }));
  [1024, 256, 50].forEach((units, i) => {
    model.add(tf.layers.dense({ name: i === 0 ? 'dense' : `dense_${i}`, units, activation: 'relu', ...init() }));
    model.add(tf.layers.dropout({ name: i === 0 ? 'dropout' : `dropout_${i}`, rate: 0.5, seed: seed * 1000 + 100 + i }));
  });
  model.add(tf.layers.dense({ name: 'dense_3', units: numClasses, activation: 'softmax', ...init() }));
  return model;
}
