/**
 * EigenCAM (Muhammad & Yeasin 2020, Eq. 3–4; pytorch-grad-cam's get_2d_projection): the layer's activations as an
 * hw × K matrix, centred per channel, projected on their first principal component (the first right singular
 * vector v₁): M = ReLU(Ã v₁). No gradient and no class: it shows what the layer responds to most, whatever the
 * prediction — the same map for every target class.
 *
 * The singular vector comes from the smaller of the two Gram matrices (ÃÃᵀ, hw × hw, or ÃᵀÃ, K × K) by power
 * iteration in float64 from a fixed start, so the map is deterministic. A singular vector's sign is arbitrary
 * (pytorch-grad-cam leaves it to the SVD routine, so its map is sometimes all zero after the ReLU); here it is
 * chosen so that the projection correlates positively with the channels' sum, the layer's total response.
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { foldedGraph } from '../../engine/folded.ts';
import type { AttributionMethod } from '../types.ts';
import { camLayer, spatialCam } from './cam.ts';

/**
 * The projection Ã v₁ of a [P, K] matrix (rows: positions) centred per column, with the sign rule above. Power
 * iteration on the smaller Gram matrix; `iterations` is a cap (it stops when the vector moves by < 1e-12).
 */
export function firstComponentProjection(a: ArrayLike<number>, P: number, K: number, iterations = 2000): Float64Array {
  const X = new Float64Array(P * K);
  for (let k = 0; k < K; k++) {
    let mean = 0;
    for (let p = 0; p < P; p++) mean += a[p * K + k];
    mean /= P;
    for (let p = 0; p < P; p++) X[p * K + k] = a[p * K + k] - mean;
  }
  // Gram on rows (P × P) when P ≤ K: its top eigenvector u gives Ã v₁ = σ u; otherwise on columns (K × K): v₁.
  const rows = P <= K;
  const n = rows ? P : K;
  const G = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      if (rows) for (let k = 0; k < K; k++) s += X[i * K + k] * X[j * K + k];
      else for (let p = 0; p < P; p++) s += X[p * K + i] * X[p * K + j];
      G[i * n + j] = s;
      G[j * n + i] = s;
    }
  }
  let v = Float64Array.from({ length: n }, (_, i) => 1 + i / n);
  let lambda = 0;
  for (let it = 0; it < iterations; it++) {
    const w = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += G[i * n + j] * v[j];
      w[i] = s;
    }
    const norm = Math.hypot(...w);
    if (norm === 0) return new Float64Array(P);
    let moved = 0;
    for (let i = 0; i < n; i++) {
      w[i] /= norm;
      moved = Math.max(moved, Math.abs(w[i] - v[i]));
    }
    v = w;
    lambda = norm;
    if (moved < 1e-12) break;
  }
  const proj = new Float64Array(P);
  if (rows) {
    const sigma = Math.sqrt(lambda);
    for (let p = 0; p < P; p++) proj[p] = sigma * v[p];
  } else {
    for (let p = 0; p < P; p++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += X[p * K + k] * v[k];
      proj[p] = s;
    }
  }
  // Sign: positive correlation with the (uncentred) sum over channels.
  let dot = 0;
  for (let p = 0; p < P; p++) {
    let total = 0;
    for (let k = 0; k < K; k++) total += a[p * K + k];
    dot += total * proj[p];
  }
  if (dot < 0) for (let p = 0; p < P; p++) proj[p] = -proj[p];
  return proj;
}

export const eigenCam: AttributionMethod<Record<string, never>> = {
  id: 'eigen-cam',
  title: 'EigenCAM',
  family: 'cam',
  signed: false,
  reference: 'Muhammad & Yeasin 2020, Eq. 3–4: M = ReLU(Ã v₁), v₁ the first right singular vector of the centred activations',
  params: z.object({}).strict() as never,
  passes: () => ({ forward: 0, capture: 1, gradient: 0 }),
  attribute(input) {
    const layer = camLayer(input);
    const A = tf.tidy(() => foldedGraph(input.model, input.x, { capture: [layer], captureOnly: true, differentiable: false }).captured[layer]) as tf.Tensor4D;
    try {
      if (A.rank !== 4) throw new Error(`CAM layer '${layer}' has output rank ${A.rank}; it needs a spatial [B, h, w, K] output`);
      const [B, h, w, K] = A.shape;
      const values = A.dataSync();
      const out = new Float32Array(B * h * w);
      for (let b = 0; b < B; b++) out.set(firstComponentProjection(values.subarray(b * h * w * K, (b + 1) * h * w * K), h * w, K), b * h * w);
      return tf.tidy(() => spatialCam(input, A, tf.tensor3d(out, [B, h, w])));
    } finally {
      A.dispose();
    }
  },
};
