/**
 * SmoothGrad (Smilkov et al. 2017, Eq. 3) wrapping any input-gradient method: the mean of its gradients over n
 * copies of the input with Gaussian noise N(0, σ²), σ a fraction of the input range; the wrapped method's own
 * reduction then makes the map. The n copies run batched, in chunks of the memory plan's size; the noise is seeded.
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { meanGradientInChunks, passLimits } from '../target.ts';
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
      const { x } = input;
      // Noisy copies in chunks of the memory plan's size; each copy's noise is seeded.
      return meanGradientInChunks(x, samples, (b, s0, n) => {
        const [, H, W, C] = x.shape;
        const xb = tf.slice(x, [b, 0, 0, 0], [1, H, W, C]);
        const sigma = tf.mul(tf.sub(tf.max(xb), tf.min(xb)), noiseLevel);
        // Each copy's noise has its own seed, so the map does not depend on how the copies were batched.
        const key = input.keys?.[b] ?? b;
        const noise = tf.stack(Array.from({ length: n }, (_, i) => tf.randomNormal([H, W, C], 0, 1, 'float32', input.seed + 7919 * key + s0 + i)));
        const noisy = tf.add(xb, tf.mul(noise, sigma)) as tf.Tensor4D;
        return base.inputGradients({ ...input, x: noisy, targets: new Array<number>(n).fill(input.targets[b]) }, params);
      }, passLimits(x, input.limits).gradient);
    },
    reduce: base.reduce,
    passes: (p) => ({ forward: 0, gradient: smoothGradParams.parse({ samples: p.samples, noiseLevel: p.noiseLevel }).samples }),
    attribute(input, params) {
      return tf.tidy(() => {
        const g = method.inputGradients(input, params);
        return { maps: base.reduce(input.x, g), channels: g };
      });
    },
  };
  return method;
}
