/**
 * Score-CAM (Wang et al. 2020, Eq. 3–5): each activation map A^k, upsampled and min–max normalised to a mask
 * H^k ∈ [0, 1], masks the input; its weight is the softmax over k of the target class's probability on
 * x ⊙ H^k. No gradients. All masked copies run in batches of `batchSize`.
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { runGraph } from '../graph.ts';
import type { AttributionMethod } from '../types.ts';
import { camLayer, camPlacement, placeOnInput, weightedCam } from './cam.ts';

export const scoreCamParams = z.object({
  /** Use only the channels with the largest mean activation (all when ≥ K). */
  maxChannels: z.number().int().min(1).default(256),
  batchSize: z.number().int().min(1).default(256),
}).strict();
export type ScoreCamParams = z.infer<typeof scoreCamParams>;

export const scoreCam: AttributionMethod<ScoreCamParams> = {
  id: 'score-cam',
  title: 'Score-CAM',
  family: 'cam',
  signed: false,
  reference: 'Wang et al. 2020, Eq. 3–5: w_k = softmax_k(p_c(x ⊙ norm(up(A^k))))',
  params: scoreCamParams,
  attribute(input, params) {
    const { maxChannels, batchSize } = scoreCamParams.parse(params);
    const { model, x, targets } = input;
    const [B, H, W, C] = x.shape;
    const layer = camLayer(input);
    const A = tf.tidy(() => runGraph(model, x, { capture: [layer] }).captured[layer] as tf.Tensor4D);
    const [, h, w, K] = A.shape;
    const placement = camPlacement(input, A);
    const weightsPerSample: number[][] = [];
    try {
      for (let b = 0; b < B; b++) {
        const a = tf.tidy(() => tf.slice(A, [b, 0, 0, 0], [1, h, w, K]));
        // Channels by mean activation, strongest first; the rest get weight 0.
        const means = tf.tidy(() => tf.mean(a, [0, 1, 2]).dataSync());
        const order = Array.from(means.keys()).sort((i, j) => means[j] - means[i] || i - j).slice(0, Math.min(maxChannels, K));
        const scores: number[] = [];
        for (let start = 0; start < order.length; start += batchSize) {
          const chunk = order.slice(start, start + batchSize);
          const probs = tf.tidy(() => {
            const maps = tf.gather(tf.transpose(a, [3, 1, 2, 0]), chunk); // [k, h, w, 1]
            const up = tf.expandDims(placeOnInput(tf.squeeze(maps, [3]) as tf.Tensor3D, placement, [H, W]), 3);
            const lo = tf.min(up, [1, 2, 3], true);
            const hi = tf.max(up, [1, 2, 3], true);
            const span = tf.sub(hi, lo);
            const masks = tf.where(tf.greater(span, 0), tf.div(tf.sub(up, lo), tf.maximum(span, 1e-12)), tf.zerosLike(up));
            const xb = tf.slice(x, [b, 0, 0, 0], [1, H, W, C]);
            const masked = tf.mul(xb, masks) as tf.Tensor4D;
            const p = model.predict(masked, { batchSize: masked.shape[0] }) as tf.Tensor2D;
            return tf.squeeze(tf.slice(p, [0, targets[b]], [chunk.length, 1]), [1]).dataSync();
          });
          scores.push(...probs);
        }
        tf.dispose(a);
        const soft = tf.tidy(() => tf.softmax(tf.tensor1d(scores)).dataSync());
        const wk = new Array<number>(K).fill(0);
        order.forEach((k, i) => {
          wk[k] = soft[i];
        });
        weightsPerSample.push(wk);
      }
      return tf.tidy(() => weightedCam(input, A, tf.tensor2d(weightsPerSample, [B, K])));
    } finally {
      A.dispose();
    }
  },
};
