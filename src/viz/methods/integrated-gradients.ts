/**
 * Integrated Gradients (Sundararajan, Taly & Yan 2017, Eq. 1 and Sec. 5 Riemann approximation):
 * IG_i(x) = (x_i − x'_i) · (1/m) Σ_{k=1..m} ∂S_c(x' + (k − ½)/m · (x − x'))/∂x_i  (midpoint rule),
 * summed over channels for the map. The m steps run batched, in chunks bounded by input size. Completeness says
 * Σ_i IG_i = S_c(x) − S_c(x'); the gap is reported per sample.
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { meanGradientInChunks, passLimits, targetMask, targetScore } from '../target.ts';
import type { AttributionMethod } from '../types.ts';
import { foldedGraph } from '../../engine/folded.ts';

export const integratedGradientsParams = z.object({
  /** Riemann steps m (paper: 20–300). */
  steps: z.number().int().min(1).max(1024).default(128),
  /** Baseline x': 'black' (all zeros in input units), 'mean' (the image's mean per channel). */
  baseline: z.enum(['black', 'mean']).default('black'),
}).strict();
export type IntegratedGradientsParams = z.infer<typeof integratedGradientsParams>;

export const integratedGradients: AttributionMethod<IntegratedGradientsParams> = {
  id: 'integrated-gradients',
  title: 'Integrated Gradients',
  family: 'gradient',
  signed: true,
  reference: 'Sundararajan et al. 2017, Eq. 1 with the midpoint Riemann sum of Sec. 5',
  params: integratedGradientsParams,
  passes: (p) => ({ forward: 2, gradient: integratedGradientsParams.parse(p).steps }),
  attribute({ model, x, targets, limits }, params) {
    const { steps, baseline } = integratedGradientsParams.parse(params);
    return tf.tidy(() => {
      const [, H, W, C] = x.shape;
      const base = baseline === 'black' ? tf.zerosLike(x) : tf.broadcastTo(tf.mean(x, [1, 2], true), x.shape);
      const delta = tf.sub(x, base);
      // Gradients along the path, a chunk of the memory plan's size at a time (a 224x224 MobileNetV2 holds
      // ~340 MB per image in a gradient pass: 128 steps at once would overflow the 4 GiB wasm heap 10 times).
      const avg = meanGradientInChunks(x, steps, (b, s0, n) => {
        const a = tf.reshape(tf.div(tf.add(tf.range(s0, s0 + n, 1, 'float32'), 0.5), steps), [n, 1, 1, 1]);
        const path = tf.add(tf.slice(base, [b, 0, 0, 0], [1, H, W, C]), tf.mul(a, tf.slice(delta, [b, 0, 0, 0], [1, H, W, C])));
        return tf.grad((v: tf.Tensor) => targetScore(model, v, new Array<number>(n).fill(targets[b])))(path);
      }, passLimits(x, limits).gradient);
      const attributions = tf.mul(delta, avg) as tf.Tensor4D;
      // Completeness: |Σ IG − (S(x) − S(x'))| relative to |S(x) − S(x')|.
      const scores = (v: tf.Tensor) => {
        const logits = foldedGraph(model, v, { logits: true, differentiable: false }).output as tf.Tensor2D;
        return tf.sum(tf.mul(logits, targetMask(targets, logits.shape[1])), -1);
      };
      const diff = tf.sub(scores(x), scores(base));
      const total = tf.sum(attributions, [1, 2, 3]);
      const gap = Array.from(tf.abs(tf.sub(total, diff)).dataSync());
      const rel = Array.from(tf.div(tf.abs(tf.sub(total, diff)), tf.maximum(tf.abs(diff), 1e-12)).dataSync());
      return {
        maps: tf.sum(attributions, -1) as tf.Tensor3D,
        channels: attributions,
        extras: { completenessGap: gap, completenessGapRelative: rel, scoreDifference: Array.from(diff.dataSync()) },
      };
    });
  },
};
