/**
 * ROAD: the noisy linear imputation against a dense solve of the same linear system (Gaussian elimination in
 * float64), and the curves' order — MoRF removes the most relevant pixels first, LeRF the least — on a model that
 * reads one pixel, with a hole the imputation cannot fill from the same value.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { linearImpute, roadCurves } from '../../src/viz/metrics/road.ts';
import { relError, useBackend } from '../helpers/backends.ts';

beforeAll(async () => {
  await useBackend('wasm');
});

/** Solve A v = b by Gaussian elimination with partial pivoting. */
function solve(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    [M[c], M[p]] = [M[p], M[c]];
    for (let r = c + 1; r < n; r++) {
      const f = M[r][c] / M[c][c];
      for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  const v = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r][n];
    for (let k = r + 1; k < n; k++) s -= M[r][k] * v[k];
    v[r] = s / M[r][r];
  }
  return v;
}

describe('ROAD', () => {
  it('fills the holes with the solution of the neighbour-mean system (dense solve in float64)', () => {
    const H = 6;
    const W = 5;
    const px = Array.from({ length: H * W }, (_, i) => Math.sin(i) * 3 + (i % 4));
    const removed = new Uint8Array(H * W);
    for (const p of [0, 7, 8, 12, 13, 14, 22, 29]) removed[p] = 1;
    const holes = [...removed.keys()].filter((p) => removed[p]);
    const idx = new Map(holes.map((p, i) => [p, i]));
    const A = holes.map(() => new Array<number>(holes.length).fill(0));
    const b = new Array<number>(holes.length).fill(0);
    const nb: Array<[number, number, number]> = [[-1, 0, 1 / 6], [1, 0, 1 / 6], [0, -1, 1 / 6], [0, 1, 1 / 6], [-1, -1, 1 / 12], [-1, 1, 1 / 12], [1, -1, 1 / 12], [1, 1, 1 / 12]];
    holes.forEach((p, i) => {
      const y = Math.floor(p / W);
      const x = p % W;
      let wsum = 0;
      for (const [dy, dx, w] of nb) {
        const yy = y + dy;
        const xx = x + dx;
        if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
        wsum += w;
        const q = yy * W + xx;
        if (idx.has(q)) A[i][idx.get(q)!] -= w;
        else b[i] += w * px[q];
      }
      A[i][i] += wsum;
    });
    const want = solve(A, b);
    const got = linearImpute(px, removed, H, W, 1, 5000, 1e-12);
    expect(relError(holes.map((p) => got[p]), want)).toBeLessThan(1e-8);
    // Known pixels are untouched.
    for (let p = 0; p < H * W; p++) if (!removed[p]) expect(got[p]).toBe(px[p]);
  });

  it('the SIMD sweeps (wasm engine) give the bits of the JavaScript sweeps (cpu engine): 1 and 3 channels, holes of 1 to 95 %', async () => {
    const H = 37;
    const W = 29;
    let state = 11;
    const rand = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (const C of [1, 3]) {
      const px = Float32Array.from({ length: H * W * C }, (_, i) => Math.sin(i / 7) + rand() - 0.5);
      // Blobs around a centre (an attribution map's order) and scattered pixels, few and many.
      const score = Array.from({ length: H * W }, (_, p) => -Math.hypot(Math.floor(p / W) - 12, (p % W) - 17) + 5 * rand());
      const order = [...score.keys()].sort((a, b) => score[b] - score[a]);
      for (const fraction of [0.01, 0.3, 0.7, 0.95]) {
        for (const scattered of [false, true]) {
          const removed = new Uint8Array(H * W);
          for (let r = 0; r < Math.round(fraction * H * W); r++) removed[scattered ? Math.floor(rand() * H * W) : order[r]] = 1;
          await useBackend('cpu');
          const js = linearImpute(px, removed, H, W, C);
          await useBackend('wasm');
          const simd = linearImpute(px, removed, H, W, C);
          expect(simd).toEqual(js);
          // Few sweeps and a loose tolerance: both stop after the same sweep.
          await useBackend('cpu');
          const jsShort = linearImpute(px, removed, H, W, C, 7, 1e-2);
          await useBackend('wasm');
          expect(linearImpute(px, removed, H, W, C, 7, 1e-2)).toEqual(jsShort);
          expect(jsShort).not.toEqual(js);
        }
      }
    }
  });

  it('MoRF removes the most relevant pixels first, LeRF the least; seeded', () => {
    // An 8x8 image: a bright 2x2 square (value 1) on 0; the model's class-0 logit is 8 · (pixel (3,3)) − 4, so
    // imputing the square away (from its zero neighbours) drops P(class 0) from σ(4) towards σ(−4).
    const m = tf.sequential();
    m.add(tf.layers.flatten({ inputShape: [8, 8, 1] }));
    m.add(tf.layers.dense({ units: 2, activation: 'softmax', name: 'd' }));
    const k = new Float32Array(64 * 2);
    k[(3 * 8 + 3) * 2] = 8;
    m.getLayer('d').setWeights([tf.tensor2d(k, [64, 2]), tf.tensor1d([-4, 0])]);
    const img = new Float32Array(64);
    for (const p of [27, 28, 35, 36]) img[p] = 1;
    const x = tf.tensor4d(img, [1, 8, 8, 1]);
    const map = Float32Array.from(img); // the square ranked first
    const r = roadCurves(m, x, map, 0, { range: [0, 1], seed: 3, fractions: [0.1, 0.5] });
    const high = 1 / (1 + Math.exp(-4));
    expect(r.morf[0]).toBeLessThan(0.1); // the square (and a few zeros) removed: pixel (3,3) imputed near 0
    expect(r.lerf[0]).toBeCloseTo(high, 2); // only zeros removed, far from the square
    expect(r.morfAuc).toBeLessThan(r.lerfAuc);
    expect(roadCurves(m, x, map, 0, { range: [0, 1], seed: 3, fractions: [0.1, 0.5] })).toEqual(r);
  });
});
