/**
 * Score-CAM (Wang et al. 2020, Eq. 3–5): each activation map A^k, upsampled and min–max normalised to a mask
 * H^k ∈ [0, 1], masks the input; its weight is the softmax over k of the target class's probability on
 * x ⊙ H^k. The masks' forward passes use no gradients; one gradient pass picks the k channels with the largest
 * Grad-CAM weight (k = 64 by default: each channel costs a forward pass), the rest get weight 0. The masked
 * copies run in batches of the memory plan's size.
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import type { AttributionMethod } from '../types.ts';
import { passLimits } from '../target.ts';
import { activationsAndGradients, camPlacement, placeOnInput, weightedCam } from './cam.ts';
import { forward } from '../../engine/folded.ts';

export const scoreCamParams = z.object({
  /**
   * Use the k channels with the largest Grad-CAM weight (mean gradient of the class score), all when the layer has
   * fewer: each channel costs one forward pass, and VGG16's or MobileNetV2's last layers have 512 and 1,280.
   */
  maxChannels: z.number().int().min(1).default(64),
  /** At most this many masked images per forward pass (the memory plan may allow fewer). */
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
  passes: (p, { channels }) => ({ forward: Math.min(scoreCamParams.parse(p).maxChannels, channels), gradient: 1 }),
  attribute(input, params) {
    const { maxChannels, batchSize } = scoreCamParams.parse(params);
    const { model, x, targets } = input;
    const [B, H, W, C] = x.shape;
    const { A, G } = tf.tidy(() => activationsAndGradients(input));
    const [, h, w, K] = A.shape;
    const placement = camPlacement(input, A);
    const perPass = Math.min(batchSize, passLimits(x, input.limits).forward);
    const weightsPerSample: number[][] = [];
    const used: number[] = [];
    try {
      for (let b = 0; b < B; b++) {
        const a = tf.tidy(() => tf.slice(A, [b, 0, 0, 0], [1, h, w, K]));
        // Channels by Grad-CAM weight, largest first (ties by index); the others get weight 0.
        const alpha = tf.tidy(() => tf.mean(tf.slice(G, [b, 0, 0, 0], [1, h, w, K]), [0, 1, 2]).dataSync());
        const order = Array.from(alpha.keys()).sort((i, j) => alpha[j] - alpha[i] || i - j).slice(0, Math.min(maxChannels, K));
        used.push(order.length);
        const scores: number[] = [];
        for (let start = 0; start < order.length; start += perPass) {
          const chunk = order.slice(start, start + perPass);
          const probs = tf.tidy(() => {
            const maps = tf.gather(tf.transpose(a, [3, 1, 2, 0]), chunk); // [k, h, w, 1]
            const up = tf.expandDims(placeOnInput(tf.squeeze(maps, [3]) as tf.Tensor3D, placement, [H, W]), 3);
            const lo = tf.min(up, [1, 2, 3], true);
            const hi = tf.max(up, [1, 2, 3], true);
            const span = tf.sub(hi, lo);
            const masks = tf.where(tf.greater(span, 0), tf.div(tf.sub(up, lo), tf.maximum(span, 1e-12)), tf.zerosLike(up));
            const xb = tf.slice(x, [b, 0, 0, 0], [1, H, W, C]);
            const masked = tf.mul(xb, masks) as tf.Tensor4D;
            const p = forward(model, masked, { batchSize: masked.shape[0] }) as tf.Tensor2D;
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
      const cam = tf.tidy(() => weightedCam(input, A, tf.tensor2d(weightsPerSample, [B, K])));
      return { ...cam, extras: { channelsUsed: used, layerChannels: used.map(() => K) } };
    } finally {
      tf.dispose([A, G]);
    }
  },
};
