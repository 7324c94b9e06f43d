/**
 * What every CAM method shares (pytorch-grad-cam's base_cam, Captum's LayerAttribution): activations A of
 * the chosen layer and the gradients G = ∂S_c/∂A, a per-channel weighting, ReLU(Σ_k w_k A_k), and bilinear
 * upsampling to the input size. A: [B, h, w, K]; weights: [B, K]; CAM: [B, h, w] and [B, H, W].
 *
 * Upsampling follows the layer's geometry rather than stretching its grid over the image: unit (i, j) is drawn
 * at the centre of its receptive field, start + i · jump (src/viz/receptive-field.ts), values are interpolated
 * bilinearly between those centres and held constant beyond the outermost ones. Stretching (`resizeBilinear`,
 * what most libraries do) shifts every map by up to half a unit for 'same' padding and, for 'valid' padding,
 * spreads a 26x26 grid that covers input pixels 7…57 over 0…63: on a TinyVGG trained on shapes, Grad-CAM's
 * pointing game rose from 0.26 to 0.68 with this alignment alone (200 test images).
 */
import * as tf from '@tensorflow/tfjs';
import { defaultCamLayer } from '../graph.ts';
import { foldedGraph } from '../../engine/folded.ts';
import { receptiveFields } from '../receptive-field.ts';
import { targetScore } from '../target.ts';
import type { AttributionInput } from '../types.ts';

export function camLayer(input: AttributionInput): string {
  return input.layer ?? defaultCamLayer(input.model);
}

/** Where a layer's units sit on the input, per axis: the first unit's centre and the distance between units. */
export interface Placement {
  start: [number, number];
  jump: [number, number];
}

const placements = new WeakMap<tf.LayersModel, Map<string, Placement>>();

/**
 * The placement of `layer`'s units on an [H, W] input. A layer the receptive-field walk cannot place (a global
 * layer, or one missing from it) falls back to an even spread: jump = H / h, first centre at jump / 2.
 */
export function layerPlacement(model: tf.LayersModel, layer: string, lowHW: [number, number], inputHW: [number, number]): Placement {
  let fields = placements.get(model);
  if (fields == null) {
    fields = new Map();
    for (const [name, f] of receptiveFields(model)) if (!f.global) fields.set(name, { start: f.start, jump: f.jump });
    placements.set(model, fields);
  }
  const even: Placement = {
    jump: [inputHW[0] / lowHW[0], inputHW[1] / lowHW[1]],
    start: [inputHW[0] / lowHW[0] / 2, inputHW[1] / lowHW[1] / 2],
  };
  return fields.get(layer) ?? even;
}

/** [out, n] bilinear weights along one axis: pixel p (centre p + 0.5) between the unit centres around it. */
function axisWeights(out: number, n: number, start: number, jump: number): tf.Tensor2D {
  const w = new Float32Array(out * n);
  for (let p = 0; p < out; p++) {
    const u = Math.min(n - 1, Math.max(0, (p + 0.5 - start) / jump));
    const i0 = Math.min(Math.floor(u), Math.max(n - 2, 0));
    const f = u - i0;
    w[p * n + i0] += 1 - f;
    if (f > 0) w[p * n + i0 + 1] += f;
  }
  return tf.tensor2d(w, [out, n]);
}

/** Bilinear upsampling of [N, h, w] maps to [N, H, W] with units at their receptive-field centres. */
export function placeOnInput(low: tf.Tensor3D, placement: Placement, inputHW: [number, number]): tf.Tensor3D {
  return tf.tidy(() => {
    const [N, h, w] = low.shape;
    const [H, W] = inputHW;
    const ry = axisWeights(H, h, placement.start[0], placement.jump[0]); // [H, h]
    const rxT = tf.transpose(axisWeights(W, w, placement.start[1], placement.jump[1])); // [w, W]
    const cols = tf.reshape(tf.matMul(tf.reshape(low, [N * h, w]), rxT), [N, h, W]); // along x
    const rows = tf.matMul(ry, tf.reshape(tf.transpose(cols, [1, 0, 2]), [h, N * W])); // along y: [H, N * W]
    return tf.transpose(tf.reshape(rows, [H, N, W]), [1, 0, 2]) as tf.Tensor3D;
  });
}

/** Activations of `layer` and the target score's gradients with respect to them. */
export function activationsAndGradients(input: AttributionInput): { A: tf.Tensor4D; G: tf.Tensor4D } {
  const layer = camLayer(input);
  const A = foldedGraph(input.model, input.x, { capture: [layer], captureOnly: true, differentiable: false }).captured[layer] as tf.Tensor4D;
  if (A.rank !== 4) throw new Error(`CAM layer '${layer}' has output rank ${A.rank}; it needs a spatial [B, h, w, K] output`);
  const G = tf.grad((a: tf.Tensor) => targetScore(input.model, input.x, input.targets, { [layer]: a }))(A) as tf.Tensor4D;
  return { A, G };
}

/** ReLU(Σ_k w_k A_k) at the layer's resolution and placed on the input (see `placeOnInput`). */
export function weightedCam(input: AttributionInput, A: tf.Tensor4D, weights: tf.Tensor2D): { lowRes: tf.Tensor3D; maps: tf.Tensor3D } {
  const [B, h, w, K] = A.shape;
  const lowRes = tf.relu(tf.sum(tf.mul(A, tf.reshape(weights, [B, 1, 1, K])), -1)) as tf.Tensor3D;
  return { lowRes, maps: placeOnInput(lowRes, camPlacement(input, A), [input.x.shape[1], input.x.shape[2]]) };
}

/** The placement of the CAM layer's units on this input. */
export function camPlacement(input: AttributionInput, A: tf.Tensor4D): Placement {
  return layerPlacement(input.model, camLayer(input), [A.shape[1], A.shape[2]], [input.x.shape[1], input.x.shape[2]]);
}

/** A CAM already summed over channels at the layer's resolution [B, h, w]: ReLU, then placed on the input. */
export function spatialCam(input: AttributionInput, A: tf.Tensor4D, summed: tf.Tensor3D): { lowRes: tf.Tensor3D; maps: tf.Tensor3D } {
  const lowRes = tf.relu(summed) as tf.Tensor3D;
  return { lowRes, maps: placeOnInput(lowRes, camPlacement(input, A), [input.x.shape[1], input.x.shape[2]]) };
}
