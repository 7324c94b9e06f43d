/**
 * SmoothGrad (Smilkov et al. 2017, Eq. 3) wrapping any input-gradient method: the mean of its gradients over n
 * copies of the input with Gaussian noise N(0, σ²), σ a fraction of the input range; the wrapped method's own
 * reduction then makes the map. All n copies of all samples run as one batch; the noise is seeded.
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { repeatTargets } from '../target.ts';
import type { AttributionInput, InputGradientMethod } from '../types.ts';

export const smoothGradParams = z.object({
  /** Noisy copies per sample (paper: 50). */
  samples: z.number().int().min(1).max(512).default(32),
  /** Noise σ as a fraction of (max − min) of each input (paper: 10–20 %). */
  noiseLevel: z.number().min(0).max(1).default(0.15),
}).strict();
export type SmoothGradParams = z.infer<typeof smoothGradParams>;

export function smoothGrad<P extends Record<string, unknown>>(base: InputGradientMethod<P>): InputGradientMethod<SmoothGradParams & P> {
  const method: InputGradientMethod<SmoothGradParams & P> = {
    id: `smoothgrad-${base.id}`,
    title: `SmoothGrad (${base.title})`,
    family: 'gradient',
    signed: base.signed,
    reference: `Smilkov et al. 2017, Eq. 3: M̂(x) = (1/n) Σ_k M(x + N(0, σ²)), with M = ${base.title}`,
    params: smoothGradParams as unknown as z.ZodType<SmoothGradParams & P, z.ZodTypeDef, unknown>,
    inputGradients(input: AttributionInput, params) {
      const { samples, noiseLevel } = smoothGradParams.parse({ samples: params.samples, noiseLevel: params.noiseLevel });
      return tf.tidy(() => {
        const { x } = input;
        const [B, H, W, C] = x.shape;
        const range = tf.sub(tf.max(x, [1, 2, 3], true), tf.min(x, [1, 2, 3], true)); // [B,1,1,1]
        const sigma = tf.mul(range, noiseLevel);
        // [B, n, H, W, C] → [B·n, H, W, C]: sample b's copies are rows b·n … b·n + n − 1.
        const noise = tf.mul(tf.randomNormal([B, samples, H, W, C], 0, 1, 'float32', input.seed), tf.expandDims(sigma, 1));
        const noisy = tf.reshape(tf.add(tf.expandDims(x, 1), noise), [B * samples, H, W, C]) as tf.Tensor4D;
        const g = base.inputGradients({ ...input, x: noisy, targets: repeatTargets(input.targets, samples) }, params);
        return tf.mean(tf.reshape(g, [B, samples, H, W, C]), 1) as tf.Tensor4D;
      });
    },
    reduce: base.reduce,
    attribute(input, params) {
      return tf.tidy(() => {
        const g = method.inputGradients(input, params);
        return { maps: base.reduce(input.x, g), channels: g };
      });
    },
  };
  return method;
}
