/**
 * ROAD — RemOve And Debias (Rong, Leemann, Borisov, Kasneci & Kasneci 2022, Sec. 4): deletion curves whose
 * removed pixels are *imputed* from their neighbours instead of set to a constant, so the mask's shape cannot
 * leak the order to the model (a black or blurred hole the size of the object tells a classifier where the
 * object was). Noisy linear imputation: every removed pixel takes the weighted mean of its 8 neighbours (weight
 * 1/6 for the 4 direct ones, 1/12 for the diagonals, only those inside the image) — a sparse linear system over
 * all removed pixels at once, solved by successive over-relaxation in float64 — plus Gaussian noise (σ = 1 % of the
 * input range), seeded.
 * Two orders: MoRF (most relevant first; the probability should fall fast, low area) and LeRF (least relevant
 * first; it should stay, high area), at fixed fractions of the pixels.
 */
import * as tf from '@tensorflow/tfjs';
import { mulberry32 } from '../../data/batches.ts';
import { hasSimdKernels, simdKernels, simdMemory } from '../../engine/simd/simd.ts';
import { blurImage, pixelOrder, trapezoid } from './removal.ts';
import { forward } from '../../engine/folded.ts';

export interface RoadCurves {
  fractions: number[];
  /** Target probability with the most relevant fraction removed and imputed. */
  morf: number[];
  /** … the least relevant fraction. */
  lerf: number[];
  morfAuc: number;
  lerfAuc: number;
}

/** ROAD's fractions of pixels removed (the paper uses 10 … 90 %; five of them here). */
export const ROAD_FRACTIONS = [0.1, 0.3, 0.5, 0.7, 0.9];

const NEIGHBOURS: Array<[number, number, number]> = [
  [-1, 0, 1 / 6], [1, 0, 1 / 6], [0, -1, 1 / 6], [0, 1, 1 / 6],
  [-1, -1, 1 / 12], [-1, 1, 1 / 12], [1, -1, 1 / 12], [1, 1, 1 / 12],
];

/**
 * The removed pixels (`removed[p]` = 1) of an [H, W, C] image filled by the neighbour-mean system, solved to a
 * change below `tolerance` × the image's largest value in a sweep (or `iterations` sweeps), without noise. From the
 * (coarse) normalised-convolution start, measured on 64x64 shapes images against 20,000 sweeps: one central hole
 * of 90 % ends within 0.3 % of the range of the exact solution; holes in the order of an attribution map (blobs
 * around the object, 10–90 % of the pixels) within 2.9 % at their worst pixel — below the imputation noise's
 * 1 % σ almost everywhere.
 */
export function linearImpute(pixels: ArrayLike<number>, removed: Uint8Array, H: number, W: number, C: number, iterations = 100, tolerance = 1e-3): Float64Array {
  const out = Float64Array.from(pixels);
  const holes: number[] = [];
  for (let p = 0; p < H * W; p++) if (removed[p]) holes.push(p);
  if (holes.length === 0) return out;
  // Start from a normalised convolution — blur(known pixels) / blur(known mask) — which is already close to the
  // solution inside large holes, where over-relaxation alone would need thousands of sweeps. A starting point only
  // (the sweeps below converge to the system's solution), so it is computed on a grid ⌊σ / 2⌋ times coarser.
  const start0 = coarseNormalizedConvolution(pixels, removed, holes, H, W, C, Math.max(2, Math.min(H, W) / 8));
  for (let c = 0; c < C; c++) {
    let sum = 0;
    let n = 0;
    for (let p = 0; p < H * W; p++) if (!removed[p]) (sum += pixels[p * C + c]), n++;
    const mean = n > 0 ? sum / n : 0;
    for (let h = 0; h < holes.length; h++) {
      const den = start0[h * (C + 1) + C];
      out[holes[h] * C + c] = den > 1e-6 ? start0[h * (C + 1) + c] / den : mean;
    }
  }
  let scale = 0;
  for (let i = 0; i < out.length; i++) scale = Math.max(scale, Math.abs(out[i]));
  const omega = 1.85;
  // Each hole's in-image neighbours (element offsets of pixel p's channel 0) and weights, in NEIGHBOURS' order, and
  // their weight sum, summed in the same order: the sweeps below do the arithmetic of the plain loop over NEIGHBOURS.
  const start = new Int32Array(holes.length + 1);
  const nbOffset = new Int32Array(holes.length * NEIGHBOURS.length);
  const nbWeight = new Float64Array(holes.length * NEIGHBOURS.length);
  const wsums = new Float64Array(holes.length);
  let n = 0;
  for (let h = 0; h < holes.length; h++) {
    const p = holes[h];
    const y = Math.floor(p / W);
    const x = p % W;
    let wsum = 0;
    for (let k = 0; k < NEIGHBOURS.length; k++) {
      const nb = NEIGHBOURS[k];
      const yy = y + nb[0];
      const xx = x + nb[1];
      if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
      nbOffset[n] = (yy * W + xx) * C;
      nbWeight[n++] = nb[2];
      wsum += nb[2];
    }
    start[h + 1] = n;
    wsums[h] = wsum;
  }
  const threshold = tolerance * Math.max(scale, 1e-12);
  const inWasm = (C === 3 || C === 1) && tf.getBackend() === 'wasm' && hasSimdKernels()
    && sweepsInWasm(out, holes, C, start, nbOffset.subarray(0, n), nbWeight.subarray(0, n), wsums, iterations, omega, threshold);
  if (!inWasm) sweeps(out, holes, C, start, nbOffset, nbWeight, wsums, iterations, omega, threshold);
  return out;
}

/**
 * The over-relaxation sweeps in JavaScript (any C; other backends): hole h's channel c is out[holes[h]·C + c], its
 * neighbours k in [start[h], start[h + 1]) at element offsets nbOffset[k] with weights nbWeight[k].
 */
function sweeps(out: Float64Array, holes: number[], C: number, start: Int32Array, nbOffset: Int32Array, nbWeight: Float64Array,
  wsums: Float64Array, iterations: number, omega: number, threshold: number): void {
  // Channels do not interact: all C of a hole are updated together (the same sums in the same order as one channel
  // at a time), with the neighbour list read once.
  const sums = new Float64Array(C);
  for (let it = 0; it < iterations; it++) {
    let moved = 0;
    for (let h = 0; h < holes.length; h++) {
      const base = holes[h] * C;
      const from = start[h];
      const to = start[h + 1];
      const wsum = wsums[h];
      if (C === 3) {
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        for (let k = from; k < to; k++) {
          const w = nbWeight[k];
          const o = nbOffset[k];
          s0 += w * out[o];
          s1 += w * out[o + 1];
          s2 += w * out[o + 2];
        }
        sums[0] = s0;
        sums[1] = s1;
        sums[2] = s2;
      } else if (C === 1) {
        let s0 = 0;
        for (let k = from; k < to; k++) s0 += nbWeight[k] * out[nbOffset[k]];
        sums[0] = s0;
      } else {
        sums.fill(0);
        for (let k = from; k < to; k++) {
          const w = nbWeight[k];
          const o = nbOffset[k];
          for (let c = 0; c < C; c++) sums[c] += w * out[o + c];
        }
      }
      for (let c = 0; c < C; c++) {
        const i = base + c;
        const next = out[i] + omega * (sums[c] / wsum - out[i]);
        const d = Math.abs(next - out[i]);
        if (d > moved) moved = d;
        out[i] = next;
      }
    }
    if (moved <= threshold) break;
  }
}

/**
 * The same sweeps in the SIMD kernel `road_sor` (C = 1 or 3), on a copy in the wasm engine's heap: the same
 * arithmetic in the same order, so the same bits (tested), ~1.7x faster. False when the heap has no room (the caller
 * then sweeps in JavaScript).
 */
function sweepsInWasm(out: Float64Array, holes: number[], C: number, start: Int32Array, nbOffset: Int32Array, nbWeight: Float64Array,
  wsums: Float64Array, iterations: number, omega: number, threshold: number): boolean {
  const n = holes.length;
  const nnz = nbOffset.length;
  const bytes = 8 * (out.length + n + nnz) + 4 * (n + (n + 1) + nnz);
  const wasm = (tf.backend() as unknown as { wasm: { _malloc(n: number): number; _free(p: number): void } }).wasm;
  const block = wasm._malloc(bytes + 8);
  if (block === 0) return false;
  try {
    const base = (block + 7) & ~7;
    const pOut = base;
    const pWsum = pOut + 8 * out.length;
    const pNbw = pWsum + 8 * n;
    const pHoles = pNbw + 8 * nnz;
    const pStart = pHoles + 4 * n;
    const pNbo = pStart + 4 * (n + 1);
    const buffer = simdMemory().buffer;
    new Float64Array(buffer, pOut, out.length).set(out);
    new Float64Array(buffer, pWsum, n).set(wsums);
    new Float64Array(buffer, pNbw, nnz).set(nbWeight);
    const hv = new Int32Array(buffer, pHoles, n);
    for (let h = 0; h < n; h++) hv[h] = 8 * holes[h] * C;
    new Int32Array(buffer, pStart, n + 1).set(start);
    const ov = new Int32Array(buffer, pNbo, nnz);
    for (let k = 0; k < nnz; k++) ov[k] = 8 * nbOffset[k];
    simdKernels().road_sor(pOut, pHoles, pStart, pNbo, pNbw, pWsum, n, C, iterations, omega, threshold);
    out.set(new Float64Array(simdMemory().buffer, pOut, out.length));
    return true;
  } finally {
    wasm._free(block);
  }
}

/**
 * blur(known pixels) and blur(known mask) at the holes, as [holes, C + 1] values (channel C: the mask), on a grid
 * `f` = ⌊σ / 2⌋ times coarser: block sums of the known pixels and of the mask, blurImage's Gaussian with σ / f,
 * then bilinear interpolation at each hole's centre.
 */
function coarseNormalizedConvolution(pixels: ArrayLike<number>, removed: Uint8Array, holes: number[], H: number, W: number, C: number, sigma: number): Float64Array {
  const f = Math.max(1, Math.floor(sigma / 2));
  const h = Math.ceil(H / f);
  const w = Math.ceil(W / f);
  const D = C + 1;
  const sums = new Float64Array(h * w * D);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const p = y * W + x;
      if (removed[p]) continue;
      const q = (Math.floor(y / f) * w + Math.floor(x / f)) * D;
      for (let c = 0; c < C; c++) sums[q + c] += pixels[p * C + c];
      sums[q + C] += 1;
    }
  }
  const blurred = blurImage(sums, h, w, D, sigma / f);
  const out = new Float64Array(holes.length * D);
  // Plain loops, no closure per hole: this runs for every hole of every ROAD image.
  for (let k = 0; k < holes.length; k++) {
    const p = holes[k];
    const gy = Math.min(h - 1, Math.max(0, (Math.floor(p / W) + 0.5) / f - 0.5));
    const y0 = Math.floor(gy);
    const y1 = Math.min(h - 1, y0 + 1);
    const ay = gy - y0;
    const gx = Math.min(w - 1, Math.max(0, ((p % W) + 0.5) / f - 0.5));
    const x0 = Math.floor(gx);
    const x1 = Math.min(w - 1, x0 + 1);
    const ax = gx - x0;
    const q00 = (y0 * w + x0) * D;
    const q01 = (y0 * w + x1) * D;
    const q10 = (y1 * w + x0) * D;
    const q11 = (y1 * w + x1) * D;
    for (let c = 0; c < D; c++) {
      const top = blurred[q00 + c] * (1 - ax) + blurred[q01 + c] * ax;
      const bottom = blurred[q10 + c] * (1 - ax) + blurred[q11 + c] * ax;
      out[k * D + c] = top * (1 - ay) + bottom * ay;
    }
  }
  return out;
}

/**
 * ROAD curves of one sample [1, H, W, C] (model units) for one map [H·W]: for each fraction, the MoRF and LeRF
 * images with imputed holes and noise, in forward passes of at most `batchSize` images.
 */
export function roadCurves(
  model: tf.LayersModel,
  x: tf.Tensor4D,
  map: ArrayLike<number>,
  target: number,
  opts: { range: [number, number]; seed: number; fractions?: number[]; batchSize?: number },
): RoadCurves {
  const [, H, W, C] = x.shape;
  const fractions = opts.fractions ?? ROAD_FRACTIONS;
  const pixels = x.dataSync();
  const order = pixelOrder(map);
  const noise = 0.01 * (opts.range[1] - opts.range[0]);
  const rand = mulberry32((opts.seed ^ 0x20ad) >>> 0);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const images = new Float32Array(2 * fractions.length * H * W * C);
  const build = (slot: number, first: boolean, fraction: number) => {
    const k = Math.round(fraction * H * W);
    const removed = new Uint8Array(H * W);
    for (let r = 0; r < k; r++) removed[first ? order[r] : order[H * W - 1 - r]] = 1;
    const filled = linearImpute(pixels, removed, H, W, C);
    const base = slot * H * W * C;
    for (let p = 0; p < H * W; p++) {
      for (let c = 0; c < C; c++) images[base + p * C + c] = removed[p] ? filled[p * C + c] + noise * gauss() : pixels[p * C + c];
    }
  };
  fractions.forEach((f, j) => {
    build(j, true, f);
    build(fractions.length + j, false, f);
  });
  const n = 2 * fractions.length;
  const probs = tf.tidy(() => {
    const p = forward(model, tf.tensor4d(images, [n, H, W, C]), { batchSize: Math.max(1, Math.min(n, opts.batchSize ?? n)) }) as tf.Tensor2D;
    return Array.from(tf.squeeze(tf.slice(p, [0, target], [n, 1]), [1]).dataSync());
  });
  const morf = probs.slice(0, fractions.length);
  const lerf = probs.slice(fractions.length);
  return { fractions, morf, lerf, morfAuc: trapezoid(morf, fractions) / (fractions.at(-1)! - fractions[0]), lerfAuc: trapezoid(lerf, fractions) / (fractions.at(-1)! - fractions[0]) };
}
