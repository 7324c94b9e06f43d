/**
 * A slow, plain-loop float64 LeNet-5 (forward and backward) used only by tests as the reference for
 * saliency, Grad-CAM and Integrated Gradients. Layout as src/models/lenet5.ts: conv 5x5 valid ReLU → maxpool 2 →
 * conv 5x5 valid ReLU → maxpool 2 → flatten (HWC) → dense ReLU → dense ReLU → dense (logits).
 */
import type * as tf from '@tensorflow/tfjs';

type Vol = { h: number; w: number; c: number; v: Float64Array };
const at = (t: Vol, y: number, x: number, c: number) => (y * t.w + x) * t.c + c;

interface Weights {
  k1: Float64Array; b1: Float64Array; k2: Float64Array; b2: Float64Array;
  d1: Float64Array; e1: Float64Array; d2: Float64Array; e2: Float64Array; d3: Float64Array; e3: Float64Array;
}

export function weightsOf(model: tf.LayersModel): Weights {
  const w = model.getWeights().map((t) => Float64Array.from(t.dataSync()));
  return { k1: w[0], b1: w[1], k2: w[2], b2: w[3], d1: w[4], e1: w[5], d2: w[6], e2: w[7], d3: w[8], e3: w[9] };
}

function conv(x: Vol, k: Float64Array, b: Float64Array, cout: number, f = 5): Vol {
  const h = x.h - f + 1;
  const w = x.w - f + 1;
  const out: Vol = { h, w, c: cout, v: new Float64Array(h * w * cout) };
  for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) for (let o = 0; o < cout; o++) {
    let s = b[o];
    for (let i = 0; i < f; i++) for (let j = 0; j < f; j++) for (let c = 0; c < x.c; c++) s += x.v[at(x, y + i, xx + j, c)] * k[((i * f + j) * x.c + c) * cout + o];
    out.v[at(out, y, xx, o)] = s;
  }
  return out;
}

function convBackInput(dy: Vol, k: Float64Array, cin: number, f = 5): Vol {
  const dx: Vol = { h: dy.h + f - 1, w: dy.w + f - 1, c: cin, v: new Float64Array((dy.h + f - 1) * (dy.w + f - 1) * cin) };
  for (let y = 0; y < dy.h; y++) for (let xx = 0; xx < dy.w; xx++) for (let o = 0; o < dy.c; o++) {
    const g = dy.v[at(dy, y, xx, o)];
    if (g === 0) continue;
    for (let i = 0; i < f; i++) for (let j = 0; j < f; j++) for (let c = 0; c < cin; c++) dx.v[at(dx, y + i, xx + j, c)] += g * k[((i * f + j) * cin + c) * dy.c + o];
  }
  return dx;
}

const relu = (t: Vol): Vol => ({ ...t, v: t.v.map((v) => (v > 0 ? v : 0)) });

function pool(x: Vol): { out: Vol; arg: Int32Array } {
  const out: Vol = { h: x.h >> 1, w: x.w >> 1, c: x.c, v: new Float64Array((x.h >> 1) * (x.w >> 1) * x.c) };
  const arg = new Int32Array(out.v.length);
  for (let y = 0; y < out.h; y++) for (let xx = 0; xx < out.w; xx++) for (let c = 0; c < x.c; c++) {
    let best = -Infinity;
    let bi = -1;
    for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) {
      const p = at(x, 2 * y + i, 2 * xx + j, c);
      if (x.v[p] > best) { best = x.v[p]; bi = p; }
    }
    out.v[at(out, y, xx, c)] = best;
    arg[at(out, y, xx, c)] = bi;
  }
  return { out, arg };
}

function dense(x: Float64Array, k: Float64Array, b: Float64Array, units: number): Float64Array {
  const out = Float64Array.from(b);
  for (let i = 0; i < x.length; i++) for (let u = 0; u < units; u++) out[u] += x[i] * k[i * units + u];
  return out;
}

function denseBack(dy: Float64Array, k: Float64Array, inputs: number): Float64Array {
  const dx = new Float64Array(inputs);
  for (let i = 0; i < inputs; i++) for (let u = 0; u < dy.length; u++) dx[i] += dy[u] * k[i * dy.length + u];
  return dx;
}

export interface Reference {
  logits: Float64Array;
  /** conv2d_1 after ReLU [8·8·16], the Grad-CAM layer. */
  A: Vol;
  /** ∂logit_c/∂A */
  G: Vol;
  /** ∂logit_c/∂x [28·28] */
  dx: Float64Array;
}

/** Forward and backward of one 28x28 image for class c. */
export function reference(W: Weights, image: ArrayLike<number>, c: number): Reference {
  const x: Vol = { h: 28, w: 28, c: 1, v: Float64Array.from(image) };
  const z1 = conv(x, W.k1, W.b1, 6);
  const a1 = relu(z1);
  const p1 = pool(a1);
  const z2 = conv(p1.out, W.k2, W.b2, 16);
  const a2 = relu(z2);
  const p2 = pool(a2);
  const h1 = dense(p2.out.v, W.d1, W.e1, 120).map((v) => (v > 0 ? v : 0));
  const h2 = dense(h1, W.d2, W.e2, 84).map((v) => (v > 0 ? v : 0));
  const logits = dense(h2, W.d3, W.e3, 10);
  // Backward from logit c.
  const dl = new Float64Array(10);
  dl[c] = 1;
  const dh2 = denseBack(dl, W.d3, 84).map((g, i) => (h2[i] > 0 ? g : 0));
  const dh1 = denseBack(dh2, W.d2, 120).map((g, i) => (h1[i] > 0 ? g : 0));
  const dp2 = denseBack(dh1, W.d1, 256);
  const G: Vol = { ...a2, v: new Float64Array(a2.v.length) };
  p2.arg.forEach((src, i) => (G.v[src] += dp2[i]));
  const dz2: Vol = { ...G, v: G.v.map((g, i) => (z2.v[i] > 0 ? g : 0)) };
  const dp1 = convBackInput(dz2, W.k2, 6);
  const da1 = new Float64Array(a1.v.length);
  p1.arg.forEach((src, i) => (da1[src] += dp1.v[i]));
  const dz1: Vol = { ...a1, v: da1.map((g, i) => (z1.v[i] > 0 ? g : 0)) };
  const dx = convBackInput(dz1, W.k1, 1).v;
  return { logits, A: a2, G, dx };
}

/** Grad-CAM at conv2d_1: ReLU(Σ_k mean(G_k) · A_k), [8·8]. */
export function gradCamReference(r: Reference): Float64Array {
  const { A, G } = r;
  const alpha = new Float64Array(A.c);
  for (let p = 0; p < A.h * A.w; p++) for (let k = 0; k < A.c; k++) alpha[k] += G.v[p * A.c + k] / (A.h * A.w);
  return Float64Array.from({ length: A.h * A.w }, (_, p) => {
    let s = 0;
    for (let k = 0; k < A.c; k++) s += alpha[k] * A.v[p * A.c + k];
    return s > 0 ? s : 0;
  });
}

/** Integrated Gradients with a black baseline and the midpoint rule, [28·28]. */
export function integratedGradientsReference(W: Weights, image: ArrayLike<number>, c: number, steps: number): Float64Array {
  const sum = new Float64Array(784);
  for (let k = 0; k < steps; k++) {
    const a = (k + 0.5) / steps;
    const g = reference(W, Array.from(image, (v) => v * a), c).dx;
    for (let i = 0; i < 784; i++) sum[i] += g[i];
  }
  return Float64Array.from(sum, (s, i) => (image[i] * s) / steps);
}
