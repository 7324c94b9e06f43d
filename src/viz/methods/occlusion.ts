/**
 * Occlusion sensitivity (Zeiler & Fergus 2014, Sec. 4.2): slide a patch of `fill` over the image and
 * record how much the target class's probability drops. All occluded copies of a sample (plus the original)
 * run in one batch, several samples per batch. `lowRes` is the drop per patch position [B, gh, gw]; `maps` averages, per pixel, the drops
 * of every patch covering it [B, H, W] (Captum's Occlusion).
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { MAX_BATCH_PIXELS } from '../target.ts';
import type { AttributionMethod } from '../types.ts';

export const occlusionParams = z.object({
  /** Patch side in pixels; 'auto' = an eighth of the image's shorter side (4 on 28x28, 8 on 64x64, 28 on 224x224). */
  patch: z.union([z.literal('auto'), z.number().int().min(1)]).default('auto'),
  /** Step between patch positions; 'auto' = half the patch. */
  stride: z.union([z.literal('auto'), z.number().int().min(1)]).default('auto'),
  /** 'zero' (black in input units), 'mean' (the image's mean per channel) or a constant. */
  fill: z.union([z.enum(['zero', 'mean']), z.number()]).default('zero'),
  /** Images per forward pass (whole samples are packed: max(1, ⌊batchSize / (copies + 1)⌋) samples). */
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
  attribute({ model, x, targets }, params) {
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
    const drops: number[][] = [];
    const baseProbs: number[] = [];
    // Row 0 is the unoccluded original, rows 1..P the occluded copies: [P + 1, H, W, 1].
    const masks = tf.tidy(() => tf.concat([tf.zeros([1, H, W, 1]), tf.tensor4d(maskData, [P, H, W, 1])]));
    try {
      // Several samples per forward pass: larger batches run faster on every backend.
      const perChunk = Math.max(1, Math.floor(Math.min(batchSize, MAX_BATCH_PIXELS / (H * W * C)) / (P + 1)));
      for (let b0 = 0; b0 < B; b0 += perChunk) {
        const n = Math.min(perChunk, B - b0);
        const probs = tf.tidy(() => {
          const xb = tf.slice(x, [b0, 0, 0, 0], [n, H, W, C]);
          const fillValue = fill === 'zero' ? tf.zerosLike(xb) : fill === 'mean' ? tf.broadcastTo(tf.mean(xb, [1, 2], true), xb.shape) : tf.fill(xb.shape, fill);
          const m = tf.expandDims(masks, 0); // [1, P+1, H, W, 1]
          const batch = tf.reshape(
            tf.add(tf.mul(tf.expandDims(xb, 1), tf.sub(1, m)), tf.mul(tf.expandDims(fillValue, 1), m)),
            [n * (P + 1), H, W, C],
          ) as tf.Tensor4D;
          const p = model.predict(batch, { batchSize: n * (P + 1) }) as tf.Tensor2D;
          return p.dataSync();
        });
        const K = probs.length / (n * (P + 1));
        for (let i = 0; i < n; i++) {
          const t = targets[b0 + i];
          const at = (row: number) => probs[(i * (P + 1) + row) * K + t];
          baseProbs.push(at(0));
          drops.push(Array.from({ length: P }, (_, j) => at(0) - at(j + 1)));
        }
      }
    } finally {
      masks.dispose();
    }
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
