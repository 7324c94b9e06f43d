/**
 * RISE (Petsiuk, Das & Saenko 2018, Eq. 5–6 and Sec. 3.2): N random masks, each an s × s grid of cells kept with
 * probability p, upsampled bilinearly to (s + 1) × the cell size and cropped at a random shift (so the cells do
 * not sit on a fixed lattice); the map is the masks weighted by the class probability of the masked image,
 * S = Σ_i P(c | x ⊙ M_i) · M_i / (N · p). A black box: forward passes only, in batches of the memory plan's size.
 * The masks depend only on the seed and their index, so every sample (and every process) uses the same ones.
 * Masking multiplies the input in model units (as the paper), so a removed pixel becomes 0: black for [0, 1]
 * inputs, the mean pixel for Caffe-style preprocessing.
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { mulberry32 } from '../../data/batches.ts';
import { passLimits } from '../target.ts';
import type { AttributionMethod } from '../types.ts';
import { forward } from '../../engine/folded.ts';

export const riseParams = z.object({
  /** Masks N (paper: 4000 for ResNet-50; the map's noise falls as 1/√N). */
  masks: z.number().int().min(1).default(1000),
  /** Grid cells s per side (paper: 7 at 224×224). */
  cells: z.number().int().min(2).default(8),
  /** Probability p that a cell is kept. */
  probability: z.number().gt(0).lt(1).default(0.5),
  /** At most this many masked images per forward pass (the memory plan may allow fewer). */
  batchSize: z.number().int().min(1).default(256),
}).strict();
export type RiseParams = z.infer<typeof riseParams>;

/** The grids and shifts of all N masks, drawn in index order from the seed. */
function drawMasks(seed: number, N: number, s: number, p: number, cell: [number, number]): { grids: Uint8Array; shifts: Int32Array } {
  const rand = mulberry32((seed ^ 0x5e15e) >>> 0);
  const grids = new Uint8Array(N * s * s);
  const shifts = new Int32Array(N * 2);
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < s * s; j++) grids[i * s * s + j] = rand() < p ? 1 : 0;
    shifts[2 * i] = Math.floor(rand() * cell[0]);
    shifts[2 * i + 1] = Math.floor(rand() * cell[1]);
  }
  return { grids, shifts };
}

/** Source cell and weight of output pixel t (already shifted) along an axis upsampled from s cells to `up` pixels. */
function axis(t: number, s: number, up: number): { i0: number; i1: number; f: number } {
  const g = Math.min(s - 1, Math.max(0, ((t + 0.5) * s) / up - 0.5));
  const i0 = Math.floor(g);
  return { i0, i1: Math.min(s - 1, i0 + 1), f: g - i0 };
}

/**
 * Masks first … first + n − 1 as [n · H · W] in [0, 1]: each grid upsampled bilinearly (half-pixel centres, edges
 * held) to (s + 1) · cell and cropped at its shift.
 */
export function riseMasks(seed: number, params: RiseParams, H: number, W: number, first = 0, n = params.masks): Float32Array {
  const s = params.cells;
  const cell: [number, number] = [Math.ceil(H / s), Math.ceil(W / s)];
  const { grids, shifts } = drawMasks(seed, params.masks, s, params.probability, cell);
  const up = [(s + 1) * cell[0], (s + 1) * cell[1]];
  const out = new Float32Array(n * H * W);
  for (let m = 0; m < n; m++) {
    const i = first + m;
    const g = grids.subarray(i * s * s, (i + 1) * s * s);
    const xs = Array.from({ length: W }, (_, x) => axis(x + shifts[2 * i + 1], s, up[1]));
    for (let y = 0; y < H; y++) {
      const a = axis(y + shifts[2 * i], s, up[0]);
      for (let x = 0; x < W; x++) {
        const b = xs[x];
        const top = g[a.i0 * s + b.i0] * (1 - b.f) + g[a.i0 * s + b.i1] * b.f;
        const bottom = g[a.i1 * s + b.i0] * (1 - b.f) + g[a.i1 * s + b.i1] * b.f;
        out[(m * H + y) * W + x] = top * (1 - a.f) + bottom * a.f;
      }
    }
  }
  return out;
}

export const rise: AttributionMethod<RiseParams> = {
  id: 'rise',
  title: 'RISE',
  family: 'perturbation',
  signed: false,
  reference: 'Petsiuk et al. 2018, Eq. 6: S = Σ_i P(c | x ⊙ M_i) · M_i / (N · p)',
  params: riseParams,
  passes: (p) => ({ forward: riseParams.parse(p).masks, gradient: 0 }),
  attribute({ model, x, targets, seed, limits }, params) {
    const parsed = riseParams.parse(params);
    const { masks: N, probability, batchSize } = parsed;
    const [B, H, W, C] = x.shape;
    const perPass = Math.max(1, Math.min(batchSize, passLimits(x, limits).forward));
    const sums = new Float64Array(B * H * W);
    for (let m0 = 0; m0 < N; m0 += perPass) {
      const n = Math.min(perPass, N - m0);
      const masks = riseMasks(seed, parsed, H, W, m0, n);
      const m = tf.tensor4d(masks, [n, H, W, 1]);
      try {
        for (let b = 0; b < B; b++) {
          const probs = tf.tidy(() => {
            const masked = tf.mul(tf.slice(x, [b, 0, 0, 0], [1, H, W, C]), m) as tf.Tensor4D;
            const out = forward(model, masked, { batchSize: n }) as tf.Tensor2D;
            return tf.squeeze(tf.slice(out, [0, targets[b]], [n, 1]), [1]).dataSync();
          });
          const base = b * H * W;
          for (let i = 0; i < n; i++) {
            const pr = probs[i];
            const off = i * H * W;
            for (let q = 0; q < H * W; q++) sums[base + q] += pr * masks[off + q];
          }
        }
      } finally {
        m.dispose();
      }
    }
    const maps = Float32Array.from(sums, (v) => v / (N * probability));
    return { maps: tf.tensor3d(maps, [B, H, W]), extras: { masks: Array<number>(B).fill(N) } };
  },
};
