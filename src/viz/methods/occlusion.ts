/**
 * Occlusion sensitivity (Zeiler & Fergus 2014, Sec. 4.2): slide a patch of `fill` over the image and
 * record how much the target class's probability drops. All occluded copies of a sample (plus the original)
 * run batched (the memory plan's forward passes), several samples per batch when they fit. `lowRes` is the drop per patch position [B, gh, gw]; `maps` averages, per pixel, the drops
 * of every patch covering it [B, H, W] (Captum's Occlusion).
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { passLimits } from '../target.ts';
import type { AttributionMethod } from '../types.ts';
import { forward } from '../../engine/folded.ts';

export const occlusionParams = z.object({
  /** Patch side in pixels; 'auto' = an eighth of the image's shorter side (4 on 28x28, 8 on 64x64, 28 on 224x224). */
  patch: z.union([z.literal('auto'), z.number().int().min(1)]).default('auto'),
  /** Step between patch positions; 'auto' = half the patch. */
  stride: z.union([z.literal('auto'), z.number().int().min(1)]).default('auto'),
  /** 'zero' (black in input units), 'mean' (the image's mean per channel) or a constant. */
  fill: z.union([z.enum(['zero', 'mean']), z.number()]).default('zero'),
  /** At most this many images per forward pass (the memory plan may allow fewer). */
  batchSize: z.number().int().min(1).default(1024),
}).strict();
export type OcclusionParams = z.infer<typeof occlusionParams>;

/** The patch side and stride for an H x W image ('auto': an eighth of the shorter side, stride half of it). */
export function occlusionGeometry(H: number, W: number, patch: number | 'auto', stride: number | 'auto'): { patch: number; stride: number } {
  const p = patch === 'auto' ? Math.max(2, Math.round(Math.min(H, W) / 8)) : patch;
  if (p > Math.min(H, W)) throw new Error(`occlusion: patch ${p} is larger than the ${H}x${W} image; choose a patch of at most ${Math.min(H, W)}`);
  return { patch: p, stride: stride === 'auto' ? Math.max(1, Math.round(p / 2)) : stride };
}

/** Patch origins along one axis: 0, s, 2s, … while the patch fits. */
export function patchOrigins(size: number, patch: number, stride: number): number[] {
  const out: number[] = [];
  for (let o = 0; o + patch <= size; o += stride) out.push(o);
  return out;
}

export const occlusion: AttributionMethod<OcclusionParams> = {
  id: 'occlusion',
  title: 'Occlusion sensitivity',
  family: 'perturbation',
  signed: true,
  reference: 'Zeiler & Fergus 2014, Sec. 4.2: Δp_c when a patch is grey-boxed',
  params: occlusionParams,
  passes: (p, { input: [H, W] }) => {
    const o = occlusionParams.parse(p);
    const { patch, stride } = occlusionGeometry(H, W, o.patch, o.stride);
    return { forward: patchOrigins(H, patch, stride).length * patchOrigins(W, patch, stride).length + 1, gradient: 0 };
  },
  attribute({ model, x, targets, limits }, params) {
    const parsed = occlusionParams.parse(params);
    const { fill, batchSize } = parsed;
    const [B, H, W, C] = x.shape;
    const { patch, stride } = occlusionGeometry(H, W, parsed.patch, parsed.stride);
    const ys = patchOrigins(H, patch, stride);
    const xs = patchOrigins(W, patch, stride);
    const P = ys.length * xs.length;
    // One mask per patch position, shared by every sample: 1 inside the patch. [P, H, W, 1]
    const maskData = new Float32Array(P * H * W);
    ys.forEach((oy, i) =>
      xs.forEach((ox, j) => {
        const base = (i * xs.length + j) * H * W;
        for (let y = oy; y < oy + patch; y++) for (let xx = ox; xx < ox + patch; xx++) maskData[base + y * W + xx] = 1;
      }),
    );
    // Row 0 of each sample is the unoccluded original, rows 1..P its occluded copies: B × (P + 1) rows in all,
    // run in forward passes of the memory plan's size (several samples per pass on small images, part of one
    // sample's copies per pass on large ones).
    const masks = tf.tidy(() => tf.concat([tf.zeros([1, H, W, 1]), tf.tensor4d(maskData, [P, H, W, 1])]));
    const rows = B * (P + 1);
    const probs: number[] = new Array(rows);
    try {
      const n = Math.min(batchSize, passLimits(x, limits).forward);
      const fills = tf.tidy(() => (fill === 'zero' ? tf.zerosLike(x) : fill === 'mean' ? tf.broadcastTo(tf.mean(x, [1, 2], true), x.shape) : tf.fill(x.shape, fill)));
      try {
        for (let r0 = 0; r0 < rows; r0 += n) {
          const count = Math.min(n, rows - r0);
          const sample = Array.from({ length: count }, (_, i) => Math.floor((r0 + i) / (P + 1)));
          const copy = Array.from({ length: count }, (_, i) => (r0 + i) % (P + 1));
          const p = tf.tidy(() => {
            const m = tf.gather(masks, copy);
            const batch = tf.add(tf.mul(tf.gather(x, sample), tf.sub(1, m)), tf.mul(tf.gather(fills, sample), m)) as tf.Tensor4D;
            const out = forward(model, batch, { batchSize: count }) as tf.Tensor2D;
            return tf.gather(tf.reshape(out, [-1]), sample.map((b, i) => i * out.shape[1] + targets[b])).dataSync();
          });
          p.forEach((v, i) => {
            probs[r0 + i] = v;
          });
        }
      } finally {
        fills.dispose();
      }
    } finally {
      masks.dispose();
    }
    const baseProbs = Array.from({ length: B }, (_, b) => probs[b * (P + 1)]);
    const drops = baseProbs.map((p0, b) => Array.from({ length: P }, (_, j) => p0 - probs[b * (P + 1) + j + 1]));
    return tf.tidy(() => {
      const grid = tf.tensor3d(drops.flat(), [B, ys.length, xs.length]);
      // Per pixel: mean drop of the patches covering it (0 where none does).
      const sum = new Float32Array(B * H * W);
      const count = new Float32Array(H * W);
      ys.forEach((oy, i) =>
        xs.forEach((ox, j) => {
          for (let y = oy; y < oy + patch; y++) {
            for (let xx = ox; xx < ox + patch; xx++) {
              count[y * W + xx]++;
              for (let b = 0; b < B; b++) sum[b * H * W + y * W + xx] += drops[b][i * xs.length + j];
            }
          }
        }),
      );
      for (let b = 0; b < B; b++) for (let p = 0; p < H * W; p++) sum[b * H * W + p] /= Math.max(1, count[p]);
      return { maps: tf.tensor3d(sum, [B, H, W]), lowRes: grid, extras: { baseProbability: baseProbs, patch: baseProbs.map(() => patch), stride: baseProbs.map(() => stride) } };
    });
  },
};
