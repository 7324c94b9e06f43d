/**
 * Seeded initializers: Keras defaults (Glorot-uniform kernels, zero biases) with one seed per layer drawn
 * from the model seed, so two builds with one seed have bitwise-equal weights.
 */
import * as tf from '@tensorflow/tfjs';

type Initializer = ReturnType<typeof tf.initializers.zeros>;

export function seededInitializers(seed: number): () => {
  kernelInitializer: Initializer;
  biasInitializer: Initializer;
} {
  let layer = 0;
  return () => ({
    kernelInitializer: tf.initializers.glorotUniform({ seed: seed * 1000 + ++layer }),
    biasInitializer: tf.initializers.zeros(),
  });
}
