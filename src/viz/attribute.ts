/**
 * Running a method on many samples within the memory plan: the samples go through `attribute` a chunk at a time
 * (at most the plan's gradient batch, since every method takes at least one gradient or activation pass per
 * sample), and the chunks' maps, low-resolution maps and per-sample numbers are joined in sample order.
 */
import * as tf from '@tensorflow/tfjs';
import { passLimits } from './target.ts';
import type { AttributionInput, AttributionMethod } from './types.ts';

export interface Attribution {
  /** [B, H, W] maps, as raw numbers. */
  maps: Float32Array;
  /** Per-sample numbers (see AttributionResult.extras). */
  extras: Record<string, number[]>;
}

export function attributeInChunks(method: AttributionMethod<never>, input: AttributionInput, params: Record<string, unknown>): Attribution {
  const [B, H, W, C] = input.x.shape;
  const chunk = passLimits(input.x, input.limits).gradient;
  const maps = new Float32Array(B * H * W);
  const extras: Record<string, number[]> = {};
  for (let b0 = 0; b0 < B; b0 += chunk) {
    const n = Math.min(chunk, B - b0);
    const x = n === B ? input.x : (tf.slice(input.x, [b0, 0, 0, 0], [n, H, W, C]) as tf.Tensor4D);
    try {
      const keys = (input.keys ?? input.targets.map((_, i) => i)).slice(b0, b0 + n);
      const r = method.attribute({ ...input, x, targets: input.targets.slice(b0, b0 + n), keys }, params as never);
      maps.set(r.maps.dataSync() as Float32Array, b0 * H * W);
      tf.dispose([r.maps, r.channels, r.lowRes].filter(Boolean) as tf.Tensor[]);
      for (const [k, v] of Object.entries(r.extras ?? {})) (extras[k] ??= []).push(...v);
    } finally {
      if (x !== input.x) x.dispose();
    }
  }
  return { maps, extras };
}
