/**
 * LeNet-5 in Keras layout: conv 6@5x5 relu valid → maxpool 2 → conv 16@5x5 relu valid → maxpool 2
 * → flatten → dense 120 relu → dense 84 relu → dense 10 softmax. Layer names follow Keras's defaults.
 * Input [28, 28, 1] in [0, 1]; 44,426 parameters for 10 classes (61,706 with the classic 32x32 input).
 */
import * as tf from '@tensorflow/tfjs';
import { seededInitializers } from './init.ts';

export interface LeNet5Options {
  inputShape?: [number, number, number];
  numClasses?: number;
  seed?: number;
}

export function lenet5({ inputShape = [28, 28, 1], numClasses = 10, seed = 0 }: LeNet5Options = {}): tf.LayersModel {
  const init = seededInitializers(seed);
  const model = tf.sequential({ name: 'lenet5' });
  model.add(tf.layers.conv2d({ name: 'conv2d', inputShape, filters: 6, kernelSize: 5, activation: 'relu', ...init() }));
  model.add(tf.layers.maxPooling2d({ name: 'max_pooling2d', poolSize: 2 }));
  model.add(tf.layers.conv2d({ name: 'conv2d_1', filters: 16, kernelSize: 5, activation: 'relu', ...init() }));
  model.add(tf.layers.maxPooling2d({ name: 'max_pooling2d_1', poolSize: 2 }));
  model.add(tf.layers.flatten({ name: 'flatten' }));
  model.add(tf.layers.dense({ name: 'dense', units: 120, activation: 'relu', ...init() }));
  model.add(tf.layers.dense({ name: 'dense_1', units: 84, activation: 'relu', ...init() }));
  model.add(tf.layers.dense({ name: 'dense_2', units: numClasses, activation: 'softmax', ...init() }));
  return model;
}
