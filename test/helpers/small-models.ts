/** Small models the method tests work by hand or against float64 references. */
import * as tf from '@tensorflow/tfjs';
import { mulberry32 } from '../../src/data/batches.ts';
import { lenet5 } from '../../src/models/lenet5.ts';
import { fit } from '../../src/train/fit.ts';

/** x (3x3x1) → conv 1@2x2 (all ones, no bias, ReLU) → GAP → Dense [[2, −1]] softmax. */
export function oneConv(): tf.LayersModel {
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ name: 'conv', inputShape: [3, 3, 1], filters: 1, kernelSize: 2, useBias: false, activation: 'relu', kernelInitializer: 'ones' }));
  m.add(tf.layers.globalAveragePooling2d({ name: 'gap' }));
  m.add(tf.layers.dense({ name: 'out', units: 2, activation: 'softmax', kernelInitializer: tf.initializers.constant({ value: 0 }) }));
  m.getLayer('out').setWeights([tf.tensor2d([[2, -1]]), tf.tensor1d([0, 0])]);
  return m;
}

/** The one-conv model's input: A = 2x2 window sums = [[4, 6], [3, 5]]; logit_0 = 2 · mean(A) ⇒ ∂logit_0/∂A = 0.5. */
export const oneConvInput = (): tf.Tensor4D => tf.tensor4d([1, 2, 0, 0, 1, 3, 2, 0, 1], [1, 3, 3, 1]);

/** LeNet-5 (seed 11) trained 2 epochs on 64 random images, so that ReLUs are both on and off, and two inputs. */
export function trainedLenet(): { model: tf.LayersModel; x: tf.Tensor4D } {
  const model = lenet5({ seed: 11 });
  const rand = mulberry32(5);
  const images = Uint8Array.from({ length: 64 * 784 }, () => Math.floor(rand() * 256));
  const labels = Uint8Array.from({ length: 64 }, (_, i) => i % 10);
  fit(model, { images, labels, count: 64, shape: [28, 28, 1], numClasses: 10 }, { epochs: 2, batchSize: 16, seed: 1 });
  return { model, x: tf.randomUniform([2, 28, 28, 1], 0, 1, 'float32', 12) as tf.Tensor4D };
}
