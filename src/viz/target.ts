/**
 * Targets: the score a method explains. For a model ending in softmax the score is the pre-softmax logit of
 * the target class (Grad-CAM paper, Sec. 3: the softmax is swapped for linear), otherwise the output itself.
 */
import * as tf from '@tensorflow/tfjs';
import type { BatchLimits } from './types.ts';
import { foldedGraph, forward } from '../engine/folded.ts';

/** Σ_b score[b, target_b] — summing over the batch keeps every sample's gradient independent. */
export function targetScore(model: tf.LayersModel, x: tf.Tensor, targets: number[], replace?: Record<string, tf.Tensor>): tf.Scalar {
  const logits = foldedGraph(model, x, { logits: true, replace, differentiable: true }).output as tf.Tensor2D;
  return tf.sum(tf.mul(logits, targetMask(targets, logits.shape[1]))) as tf.Scalar;
}

/** [B, K] with 1 at (b, targets[b]); any K ≥ 1 (tf.oneHot needs K ≥ 2). */
export function targetMask(targets: number[], classes: number): tf.Tensor2D {
  const m = new Float32Array(targets.length * classes);
  targets.forEach((t, b) => {
    if (!(t >= 0 && t < classes)) throw new Error(`target class ${t} is outside the model's ${classes} outputs`);
    m[b * classes + t] = 1;
  });
  return tf.tensor2d(m, [targets.length, classes]);
}

/** Predicted class per sample. */
export function predictedClasses(model: tf.LayersModel, x: tf.Tensor4D, limits?: BatchLimits): number[] {
  return tf.tidy(() => Array.from((forward(model, x, { batchSize: passLimits(x, limits).forward }) as tf.Tensor).argMax(-1).dataSync()));
}

/** Repeat each sample's target `times` times (for batched noise samples, IG steps, occlusion copies). */
export function repeatTargets(targets: number[], times: number): number[] {
  return targets.flatMap((t) => Array<number>(times).fill(t));
}

/**
 * Input values per gradient batch in the batched methods (IG steps, SmoothGrad samples, occlusion copies): about
 * 85 images of 64x64x3 or 1,300 of 28x28 — large batches are fast, but their activations must fit the wasm heap.
 */
export const MAX_BATCH_PIXELS = 1 << 20;

/**
 * Images per pass for inputs of `x`'s size: the memory plan's limits (src/viz/budget.ts) when the caller has one,
 * never more than MAX_BATCH_PIXELS input values, and at least 1 (a caller that cannot fit one image skips first).
 */
export function passLimits(x: tf.Tensor4D, limits?: BatchLimits): BatchLimits {
  const [, H, W, C] = x.shape;
  const byPixels = Math.max(1, Math.floor(MAX_BATCH_PIXELS / (H * W * C)));
  return {
    forward: Math.max(1, Math.min(byPixels, limits?.forward ?? byPixels)),
    gradient: Math.max(1, Math.min(byPixels, limits?.gradient ?? byPixels)),
  };
}

/**
 * For each sample b of x, the mean over `copies` gradient evaluations, summed a chunk at a time: `gradients(b,
 * start, n)` returns the [n, H, W, C] gradients of copies start … start + n − 1 of sample b (noisy copies, path
 * points), with n at most `chunk` (the gradient limit of `passLimits`). Returns [B, H, W, C].
 */
export function meanGradientInChunks(
  x: tf.Tensor4D,
  copies: number,
  gradients: (b: number, start: number, n: number) => tf.Tensor,
  chunk = passLimits(x).gradient,
): tf.Tensor4D {
  const [B, H, W, C] = x.shape;
  const rows: tf.Tensor[] = [];
  for (let b = 0; b < B; b++) {
    let sum: tf.Tensor = tf.zeros([H, W, C]);
    for (let s0 = 0; s0 < copies; s0 += chunk) {
      const n = Math.min(chunk, copies - s0);
      const next = tf.tidy(() => tf.add(sum, tf.sum(gradients(b, s0, n), 0)));
      sum.dispose();
      sum = next;
    }
    rows.push(tf.div(sum, copies));
    sum.dispose();
  }
  const out = tf.stack(rows) as tf.Tensor4D;
  tf.dispose(rows);
  return out;
}
