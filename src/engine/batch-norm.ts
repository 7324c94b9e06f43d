/**
 * Keras's BatchNormalization layer in training through convlens's fused kernels (kernels/batch-norm-train.ts) where
 * the backend has them: the same outputs, the same moving-average updates (Keras's momentum rule, as tfjs-layers
 * writes them, computed in the same kernel), the same gradients, in 5 passes over the data instead of ~20 kernel calls. Inference, other
 * backends, a normalisation axis other than the last, and layers without centre or scale keep tfjs's own code.
 */
import * as tf from '@tensorflow/tfjs';
import { getKernel } from '@tensorflow/tfjs';
import { BN_TRAIN } from './kernels/batch-norm-train.ts';

interface BatchNormLayer {
  axis: number;
  momentum: number;
  epsilon: number;
  center: boolean;
  scale: boolean;
  gamma: { read(): tf.Tensor };
  beta: { read(): tf.Tensor };
  movingMean: { read(): tf.Tensor; write(t: tf.Tensor): void };
  movingVariance: { read(): tf.Tensor; write(t: tf.Tensor): void };
}

type Call = (this: BatchNormLayer, inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor;

function fusedApplies(layer: BatchNormLayer, x: tf.Tensor): boolean {
  const axis = layer.axis >= 0 ? layer.axis : layer.axis + x.rank;
  return x.rank >= 2 && axis === x.rank - 1 && layer.center && layer.scale && x.dtype === 'float32' && getKernel(BN_TRAIN, tf.getBackend()) != null;
}

let patched = false;

/** Route BatchNormalization's training call through the fused kernels (idempotent). */
export function patchBatchNormalization(): void {
  if (patched) return;
  const proto = Object.getPrototypeOf(tf.layers.batchNormalization({})) as { call: Call };
  const original = proto.call;
  proto.call = function (this: BatchNormLayer, inputs, kwargs) {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    if (!kwargs?.training || !fusedApplies(this, x)) return original.call(this, inputs, kwargs);
    return tf.tidy(() => {
      const [y, , , movingMean, movingVariance] = tf.engine().runKernel(
        BN_TRAIN,
        { x, gamma: this.gamma.read(), beta: this.beta.read(), movingMean: this.movingMean.read(), movingVariance: this.movingVariance.read() },
        { epsilon: this.epsilon, momentum: this.momentum },
      ) as tf.Tensor[];
      this.movingMean.write(movingMean);
      this.movingVariance.write(movingVariance);
      return y;
    });
  };
  patched = true;
}
