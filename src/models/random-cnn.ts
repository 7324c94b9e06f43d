/**
 * A 4-layer CNN, shown with its random initial weights: four 3x3 convolutions of 9 filters each (ReLU,
 * 'same'), with max pooling of 4, 3 and 2 after the first three. Even untrained, its feature maps respond to
 * edges and colour blobs — the baseline against which trained filters are read.
 */
import * as tf from '@tensorflow/tfjs';
import { seededInitializers } from './init.ts';

export function randomCnn({ inputShape = [96, 96, 3] as [number, number, number], seed = 0 } = {}): tf.LayersModel {
  const init = seededInitializers(seed);
  const model = tf.sequential({ name: 'random_cnn' });
  const pools = [4, 3, 2];
  for (let i = 0; i < 4; i++) {
    model.add(
      tf.layers.conv2d({
        name: i === 0 ? 'conv2d' : `conv2d_${i}`,
        ...(i === 0 ? { inputShape } : {}),
        filters: 9,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        ...init(),
      }),
    );
    if (i < 3) model.add(tf.layers.maxPooling2d({ name: i === 0 ? 'max_pooling2d' : `max_pooling2d_${i}`, poolSize: pools[i] }));
  }
  return model;
}
