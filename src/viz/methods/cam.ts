/**
 * What every CAM method shares (pytorch-grad-cam's base_cam, Captum's LayerAttribution): activations A of
 * the chosen layer and the gradients G = ∂S_c/∂A, a per-channel weighting, ReLU(Σ_k w_k A_k), and bilinear
 * upsampling to the input size. A: [B, h, w, K]; weights: [B, K]; CAM: [B, h, w] and [B, H, W].
 */
import * as tf from '@tensorflow/tfjs';
import { defaultCamLayer, runGraph } from '../graph.ts';
import { targetScore } from '../target.ts';
import type { AttributionInput } from '../types.ts';

export function camLayer(input: AttributionInput): string {
  return input.layer ?? defaultCamLayer(input.model);
}

/** Activations of `layer` and the target score's gradients with respect to them. */
export function activationsAndGradients(input: AttributionInput): { A: tf.Tensor4D; G: tf.Tensor4D } {
  const layer = camLayer(input);
  const A = runGraph(input.model, input.x, { capture: [layer] }).captured[layer] as tf.Tensor4D;
  if (A.rank !== 4) throw new Error(`CAM layer '${layer}' has output rank ${A.rank}; it needs a spatial [B, h, w, K] output`);
  const G = tf.grad((a: tf.Tensor) => targetScore(input.model, input.x, input.targets, { [layer]: a }))(A) as tf.Tensor4D;
  return { A, G };
}

/** ReLU(Σ_k w_k A_k) at the layer's resolution and upsampled to the input's. */
export function weightedCam(A: tf.Tensor4D, weights: tf.Tensor2D, inputHW: [number, number]): { lowRes: tf.Tensor3D; maps: tf.Tensor3D } {
  const [B, h, w, K] = A.shape;
  const lowRes = tf.relu(tf.sum(tf.mul(A, tf.reshape(weights, [B, 1, 1, K])), -1)) as tf.Tensor3D;
  const maps = tf.squeeze(tf.image.resizeBilinear(tf.reshape(lowRes, [B, h, w, 1]) as tf.Tensor4D, inputHW), [3]) as tf.Tensor3D;
  return { lowRes, maps };
}
