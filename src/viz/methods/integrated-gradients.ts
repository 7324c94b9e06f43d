/**
 * Integrated Gradients (Sundararajan, Taly & Yan 2017, Eq. 1 and Sec. 5 Riemann approximation):
 * IG_i(x) = (x_i − x'_i) · (1/m) Σ_{k=1..m} ∂S_c(x' + (k − ½)/m · (x − x'))/∂x_i  (midpoint rule),
 * summed over channels for the map. All m steps of all samples run as one batch. Completeness says
 * Σ_i IG_i = S_c(x) − S_c(x'); the gap is reported per sample.
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { MAX_BATCH_PIXELS, targetMask, targetScore } from '../target.ts';
import type { AttributionMethod } from '../types.ts';
import { runGraph } from '../graph.ts';

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
  attribute({ model, x, targets }, params) {
    const { steps, baseline } = integratedGradientsParams.parse(params);
    return tf.tidy(() => {
      const [B, H, W, C] = x.shape;
      const base = baseline === 'black' ? tf.zerosLike(x) : tf.broadcastTo(tf.mean(x, [1, 2], true), x.shape);
      const delta = tf.sub(x, base);
      // Gradients along the path, in chunks of at most MAX_BATCH_PIXELS input values (a 64x64 MobileNetV2 with
      // 128 steps in one batch would not fit in the 4 GB wasm heap).
      const chunk = Math.max(1, Math.floor(MAX_BATCH_PIXELS / (H * W * C)));
      const avgRows: tf.Tensor[] = [];
      for (let b = 0; b < B; b++) {
        let sum: tf.Tensor = tf.zeros([H, W, C]);
        for (let s0 = 0; s0 < steps; s0 += chunk) {
          const n = Math.min(chunk, steps - s0);
          const next = tf.tidy(() => {
            const a = tf.reshape(tf.div(tf.add(tf.range(s0, s0 + n, 1, 'float32'), 0.5), steps), [n, 1, 1, 1]);
            const path = tf.add(tf.slice(base, [b, 0, 0, 0], [1, H, W, C]), tf.mul(a, tf.slice(delta, [b, 0, 0, 0], [1, H, W, C])));
            const g = tf.grad((v: tf.Tensor) => targetScore(model, v, new Array<number>(n).fill(targets[b])))(path);
            return tf.add(sum, tf.sum(g, 0));
          });
          sum.dispose();
          sum = next;
        }
        avgRows.push(tf.div(sum, steps));
      }
      const avg = tf.stack(avgRows);
      const attributions = tf.mul(delta, avg) as tf.Tensor4D;
      // Completeness: |Σ IG − (S(x) − S(x'))| relative to |S(x) − S(x')|.
      const scores = (v: tf.Tensor) => {
        const logits = runGraph(model, v, { logits: true }).output as tf.Tensor2D;
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
