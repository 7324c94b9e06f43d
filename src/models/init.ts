/**
 * Seeded initializers: Keras defaults (Glorot-uniform kernels, zero biases) with one seed per layer drawn
 * from the model seed, so two builds with one seed have bitwise-equal weights.
 */
import * as tf from '@tensorflow/tfjs';

export function seededInitializers(seed: number): () => {
  kernelInitializer: tf.initializers.Initializer;
  biasInitializer: tf.initializers.Initializer;
} {
  let layer = 0;
  return () => ({
    kernelInitializer: tf.initializers.glorotUniform({ seed: seed * 1000 + ++layer }),
    biasInitializer: tf.initializers.zeros(),
  });
}
