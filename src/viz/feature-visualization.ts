/**
 * Feature visualization the Lucid way (Olah, Mordvintsev & Schubert 2017, "Feature Visualization"; Lucid's
 * `param.fft_image`, `param.color`, `transform.standard_transforms`, `objectives.diversity`):
 * - The image is parametrised by its 2-D spectrum, each frequency scaled by 1 / f (so every frequency starts with
 *   equal energy after the scaling, and gradient steps do not favour the high frequencies that make pixel-space
 *   ascent look like noise). The inverse DFT is two products with DFT matrices, so it differentiates on any
 *   backend; the real part of the complex image is the image.
 * - Colours are decorrelated: the three parametrised channels are mixed by the square root of ImageNet's colour
 *   covariance (Lucid's `color_correlation_svd_sqrt`) and squashed by a sigmoid into [0, 1], then into the model's
 *   units through the dataset's scaling (per channel, BGR when the model takes BGR).
 * - Transformation robustness at every step: pad, random scale, random rotation (three shears, each a
 *   linear-interpolation shift per row or column) and a random crop back to the input size (jitter).
 * - Adam on the spectrum (Lucid's default optimiser, at twice its rate); a diversity term (negative mean cosine similarity
 *   of the target layer's Gram matrices across the images of one channel) when several images per objective are
 *   asked for.
 * Seeded: the same options give the same images.
 */
import * as tf from '@tensorflow/tfjs';
import { adam } from '../engine/adam.ts';
import { mulberry32 } from '../data/batches.ts';
import { type Objective, objectiveSum } from './activation-maximization.ts';
import { foldedGraph } from '../engine/folded.ts';

export interface FourierOptions {
  steps: number;
  /** Adam's learning rate (Lucid: 0.05; 0.1 here reaches higher activations in the few steps a report affords). */
  learningRate?: number;
  seed: number;
  /** Bytes → model units: x = byte · scale + offset (per channel when arrays), channels reversed when `bgr`. */
  scale: number | number[];
  offset: number | number[];
  bgr?: boolean;
  /** Images per objective, made different from each other by the diversity term (default 1). */
  images?: number;
  /** Weight of the diversity term (Lucid's examples: 1e2 on Gram matrices; here on cosine similarities). */
  diversity?: number;
  /** Apply the random transformations (default true); false for a plain Fourier-space ascent. */
  transforms?: boolean;
}

export interface FourierResult {
  /** [B · images, H, W, C] in model units (rows grouped by objective). */
  images: tf.Tensor4D;
  /** [B · images, H, W, C] display bytes 0…255 (RGB). */
  rgb: Uint8Array;
  /** Objective per row on the final, untransformed image. */
  values: number[];
}

/** Lucid's square root of ImageNet's colour correlation (SVD), normalised by its largest column norm. */
const COLOR_SQRT = [[0.26, 0.09, 0.02], [0.27, 0.0, -0.05], [0.27, -0.09, 0.03]];
const colorMix = (): number[][] => {
  const maxNorm = Math.max(...[0, 1, 2].map((j) => Math.hypot(COLOR_SQRT[0][j], COLOR_SQRT[1][j], COLOR_SQRT[2][j])));
  return COLOR_SQRT.map((row) => row.map((v) => v / maxNorm));
};

/** Real and imaginary parts of the n × n inverse-DFT matrix exp(2πi·y·u/n) / n. */
export function idft(n: number): { re: tf.Tensor2D; im: tf.Tensor2D } {
  const re = new Float32Array(n * n);
  const im = new Float32Array(n * n);
  for (let y = 0; y < n; y++) {
    for (let u = 0; u < n; u++) {
      const a = (2 * Math.PI * ((y * u) % n)) / n;
      re[y * n + u] = Math.cos(a) / n;
      im[y * n + u] = Math.sin(a) / n;
    }
  }
  return { re: tf.tensor2d(re, [n, n]), im: tf.tensor2d(im, [n, n]) };
}

/** 1 / max(f, 1 / max(H, W)) · √(H·W) per frequency (u, v), f the frequency's magnitude in cycles per pixel. */
export function spectrumScale(H: number, W: number): Float32Array {
  const out = new Float32Array(H * W);
  for (let u = 0; u < H; u++) {
    for (let v = 0; v < W; v++) {
      const f = Math.hypot(Math.min(u, H - u) / H, Math.min(v, W - v) / W);
      out[u * W + v] = (1 / Math.max(f, 1 / Math.max(H, W))) * Math.sqrt(H * W);
    }
  }
  return out;
}

/** Spectrum [N, C, H, W] (real, imaginary) → image [N, H, W, C]: Re(F_H · S · F_Wᵀ), F the inverse DFT matrices. */
export function spectrumToImage(re: tf.Tensor, im: tf.Tensor, FH: { re: tf.Tensor2D; im: tf.Tensor2D }, FW: { re: tf.Tensor2D; im: tf.Tensor2D }): tf.Tensor4D {
  const [N, C, H, W] = re.shape;
  // Along rows: P = F_H · S, with S as [H, N·C·W].
  const rows = (t: tf.Tensor) => tf.reshape(tf.transpose(t, [2, 0, 1, 3]), [H, N * C * W]);
  const sr = rows(re);
  const si = rows(im);
  const pr = tf.sub(tf.matMul(FH.re, sr), tf.matMul(FH.im, si));
  const pi = tf.add(tf.matMul(FH.re, si), tf.matMul(FH.im, sr));
  // Along columns: Re(P · F_Wᵀ) = Pr · Re(F_W)ᵀ − Pi · Im(F_W)ᵀ, with P as [H·N·C, W].
  const cols = (t: tf.Tensor) => tf.reshape(t, [H * N * C, W]);
  const img = tf.sub(tf.matMul(cols(pr), FW.re, false, true), tf.matMul(cols(pi), FW.im, false, true)); // [H·N·C, W]
  return tf.transpose(tf.reshape(img, [H, N, C, W]), [1, 0, 3, 2]) as tf.Tensor4D; // [N, H, W, C]
}

/**
 * Linear-interpolation shifts along one axis of [N, H, W, C] data, line by line: along W (`axis` 2) row y moves by
 * shift(y), along H (`axis` 1) column x by shift(x); zeros come in at the edges. A shift s is an integer part
 * k = ⌊−s⌋ and a fraction f = −s − k: out[i] = (1 − f) · in[i + k] + f · in[i + k + 1]. `adjoint` applies the
 * transposed map (in[i + k] += (1 − f) · out[i], in[i + k + 1] += f · out[i]): the gradient of the forward one.
 * Two multiplies per element instead of a dense n × n interpolation matrix per line.
 */
function shiftLines(src: Float32Array, shape: number[], axis: 1 | 2, shift: (line: number) => number, adjoint: boolean): Float32Array {
  const [N, H, W, C] = shape;
  const out = new Float32Array(src.length);
  const n = axis === 2 ? W : H;
  const step = axis === 2 ? C : W * C;
  const lines = axis === 2 ? H : W;
  for (let l = 0; l < lines; l++) {
    const s = shift(l);
    const k = Math.floor(-s);
    const f = -s - k;
    const g = 1 - f;
    // Output positions i whose sources i + k (weight g) and i + k + 1 (weight f) fall inside [0, n).
    for (let b = 0; b < N; b++) {
      const lineBase = axis === 2 ? (b * H + l) * W * C : b * H * W * C + l * C;
      for (let c = 0; c < C; c++) {
        const base = lineBase + c;
        for (let i = 0; i < n; i++) {
          const j = i + k;
          const at = base + i * step;
          if (!adjoint) {
            let v = 0;
            if (j >= 0 && j < n) v += g * src[base + j * step];
            if (f > 0 && j + 1 >= 0 && j + 1 < n) v += f * src[base + (j + 1) * step];
            out[at] = v;
          } else {
            const d = src[at];
            if (j >= 0 && j < n) out[base + j * step] += g * d;
            if (f > 0 && j + 1 >= 0 && j + 1 < n) out[base + (j + 1) * step] += f * d;
          }
        }
      }
    }
  }
  return out;
}

/**
 * Rotation by θ about the centre as three shears (Paeth 1986): x-shear −tan(θ/2), y-shear sin θ, x-shear −tan(θ/2),
 * each a linear-interpolation shift per line; the gradient applies the adjoint shears in reverse order.
 */
export function rotate(x: tf.Tensor4D, theta: number): tf.Tensor4D {
  if (theta === 0) return x;
  const shape = x.shape;
  const [, H, W] = shape;
  const a = -Math.tan(theta / 2);
  const b = Math.sin(theta);
  const alongX = (k: number) => (y: number) => k * (y - (H - 1) / 2);
  const alongY = (k: number) => (xx: number) => k * (xx - (W - 1) / 2);
  const forward = (v: Float32Array) => shiftLines(shiftLines(shiftLines(v, shape, 2, alongX(a), false), shape, 1, alongY(b), false), shape, 2, alongX(a), false);
  const backward = (d: Float32Array) => shiftLines(shiftLines(shiftLines(d, shape, 2, alongX(a), true), shape, 1, alongY(b), true), shape, 2, alongX(a), true);
  const op = tf.customGrad(((input: tf.Tensor) => ({
    value: tf.tensor4d(forward(input.dataSync() as Float32Array), shape),
    gradFunc: (dy: tf.Tensor) => tf.tensor4d(backward(dy.dataSync() as Float32Array), shape),
  })) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(x) as tf.Tensor4D;
}

/** Pad, random scale, random rotation and a random H x W crop (Lucid's standard transforms, sized to the input). */
function transform(x: tf.Tensor4D, rand: () => number): tf.Tensor4D {
  const [, H, W] = x.shape;
  const pad = Math.max(2, Math.round((Math.max(H, W) * 12) / 224));
  let t = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]], 0.5) as tf.Tensor4D;
  const scales = Array.from({ length: 11 }, (_, i) => 1 + (i - 5) / 100);
  const s = scales[Math.floor(rand() * scales.length)];
  const size = [Math.max(H, Math.round((H + 2 * pad) * s)), Math.max(W, Math.round((W + 2 * pad) * s))] as [number, number];
  if (size[0] !== H + 2 * pad || size[1] !== W + 2 * pad) t = tf.image.resizeBilinear(t, size, false, true);
  const degrees = Math.floor(rand() * 21) - 10;
  t = rotate(t, (degrees * Math.PI) / 180);
  const oy = Math.floor(rand() * (size[0] - H + 1));
  const ox = Math.floor(rand() * (size[1] - W + 1));
  return tf.slice(t, [0, oy, ox, 0], [-1, H, W, -1]) as tf.Tensor4D;
}

/** One value per model channel (the dataset's scale and offset are already in the model's channel order). */
const perChannel = (v: number | number[], C: number) => Array.from({ length: C }, (_, c) => (Array.isArray(v) ? v[c] : v));

/** [0, 1] RGB [N, H, W, C] → model units: byte · scale + offset per model channel (BGR models get channels reversed). */
function toModelUnits(rgb01: tf.Tensor4D, o: Pick<FourierOptions, 'scale' | 'offset' | 'bgr'>): tf.Tensor4D {
  const C = rgb01.shape[3];
  const ordered = o.bgr && C === 3 ? tf.reverse(rgb01, 3) : rgb01;
  const scale = tf.tensor1d(perChannel(o.scale, C));
  const offset = tf.tensor1d(perChannel(o.offset, C));
  return tf.add(tf.mul(tf.mul(ordered, 255), scale), offset) as tf.Tensor4D;
}

/** Negative mean cosine similarity of the Gram matrices of `layer` within each group of `images` rows. */
function diversityLoss(model: tf.LayersModel, x: tf.Tensor4D, objectives: Objective[], images: number): tf.Scalar {
  const first = objectives.find((o) => o.kind === 'channel');
  const layer = first?.kind === 'channel' ? first.layer : undefined;
  if (!layer || images < 2) return tf.scalar(0);
  const a = foldedGraph(model, x, { capture: [layer], captureOnly: true, differentiable: true }).captured[layer];
  const [N, h, w, K] = a.shape as number[];
  const flat = tf.reshape(a, [N, h * w, K]);
  const gram = tf.reshape(tf.matMul(flat, flat, true, false), [N, K * K]);
  const unit = tf.div(gram, tf.add(tf.norm(gram, 2, 1, true), 1e-8));
  const terms: tf.Tensor[] = [];
  for (let g = 0; g < N / images; g++) {
    const u = tf.slice(unit, [g * images, 0], [images, K * K]);
    const sim = tf.matMul(u, u, false, true); // [images, images]
    terms.push(tf.div(tf.sub(tf.sum(sim), tf.sum(tf.mul(sim, tf.eye(images)))), images * (images - 1)));
  }
  return tf.neg(tf.addN(terms)) as tf.Scalar;
}

const objectiveKey = (o: Objective) => (o.kind === 'class' ? `class:${o.index}` : `${o.layer}:${o.channel}`);

/** A 32-bit seed from a number and a string (FNV-1a). */
function hashSeed(seed: number, key: string): number {
  let h = (2166136261 ^ seed) >>> 0;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619) >>> 0;
  return h;
}

export function fourierMaximize(model: tf.LayersModel, objectives: Objective[], opts: FourierOptions): FourierResult {
  const [, H, W, C] = model.inputs[0].shape as number[];
  const per = Math.max(1, opts.images ?? 1);
  const rows = objectives.flatMap((o) => Array<Objective>(per).fill(o));
  const N = rows.length;
  // Each row's starting spectrum comes from the seed, its objective and its index among the objective's images, so
  // an image does not depend on which other objectives share its batch (the memory plan decides that).
  const start = (part: number) => {
    const values = new Float32Array(N * C * H * W);
    rows.forEach((o, b) => {
      const rand = mulberry32(hashSeed(opts.seed, `${objectiveKey(o)}/${b % per}/${part}`));
      const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
      for (let i = b * C * H * W; i < (b + 1) * C * H * W; i++) values[i] = 0.01 * normal();
    });
    return values;
  };
  // Inside tidy, the initial tensors go once the variables hold their data.
  const re = tf.tidy(() => tf.variable(tf.tensor4d(start(0), [N, C, H, W])));
  const im = tf.tidy(() => tf.variable(tf.tensor4d(start(1), [N, C, H, W])));
  const FH = idft(H);
  const FW = W === H ? FH : idft(W);
  const scale = tf.tensor4d(spectrumScale(H, W), [1, 1, H, W]);
  const mix = C === 3 ? tf.tensor2d(colorMix()) : undefined;
  const image01 = (): tf.Tensor4D => {
    const raw = spectrumToImage(tf.mul(re, scale), tf.mul(im, scale), FH, FW);
    const t = tf.div(raw, 4); // Lucid's constant
    const mixed = mix ? (tf.reshape(tf.matMul(tf.reshape(t, [-1, 3]), mix, false, true), [N, H, W, 3]) as tf.Tensor4D) : t;
    return tf.sigmoid(mixed) as tf.Tensor4D;
  };
  const optimizer = adam(opts.learningRate ?? 0.1);
  const stepRand = mulberry32((opts.seed ^ 0x7a5f) >>> 0);
  try {
    for (let step = 0; step < opts.steps; step++) {
      // Each step draws its transformation before the tape, so the step is a pure function of the seed.
      const draws = Array.from({ length: 4 }, () => stepRand());
      let k = 0;
      const r = () => draws[k++ % draws.length];
      const cost = optimizer.minimize(() => {
        const x = toModelUnits(opts.transforms === false ? image01() : transform(image01(), r), opts);
        let total: tf.Tensor = objectiveSum(model, x, rows);
        if (per > 1 && (opts.diversity ?? 0) > 0) total = tf.add(total, tf.mul(opts.diversity!, diversityLoss(model, x, rows, per)));
        return tf.neg(total) as tf.Scalar;
      }, true, [re, im]);
      cost?.dispose();
    }
    const final = tf.tidy(() => image01());
    const x = tf.tidy(() => toModelUnits(final, opts));
    const rgb = Uint8Array.from(final.dataSync(), (v) => Math.round(v * 255));
    final.dispose();
    const values = tf.tidy(() => rows.map((o, b) => objectiveSum(model, tf.slice(x, [b, 0, 0, 0], [1, H, W, C]) as tf.Tensor4D, [o]).dataSync()[0]));
    return { images: x, rgb, values };
  } finally {
    tf.dispose([re, im, FH.re, FH.im, scale, ...(FW !== FH ? [FW.re, FW.im] : []), ...(mix ? [mix] : [])]);
    optimizer.dispose();
  }
}

/** Either feature visualization, with its images as display bytes per row. */
export interface FeatureImagesOptions {
  /** 'fourier' (default): the Lucid parametrisation above; 'pixel': gradient ascent in pixel space. */
  method: 'fourier' | 'pixel';
  steps: number;
  seed: number;
  data: { scale: number | number[]; offset: number | number[]; bgr?: boolean; range: [number, number] };
  /** Images per objective (diversity), Fourier only. */
  images?: number;
}

export interface FeatureImages {
  /** [rows, H, W, C] display bytes, rows grouped by objective. */
  bytes: Uint8Array;
  values: number[];
  rows: number;
}

export function featureImages(
  model: tf.LayersModel,
  objectives: Objective[],
  o: FeatureImagesOptions,
  pixel: (objectives: Objective[]) => { images: tf.Tensor4D; values: number[] },
  toBytes: (values: Float32Array) => Uint8Array,
): FeatureImages {
  if (o.method === 'pixel') {
    const r = pixel(objectives);
    const bytes = toBytes(r.images.dataSync() as Float32Array);
    r.images.dispose();
    return { bytes, values: r.values, rows: objectives.length };
  }
  const per = Math.max(1, o.images ?? 1);
  const r = fourierMaximize(model, objectives, { steps: o.steps, seed: o.seed, scale: o.data.scale, offset: o.data.offset, bgr: o.data.bgr, images: per, diversity: per > 1 ? 1 : 0 });
  r.images.dispose();
  return { bytes: r.rgb, values: r.values, rows: objectives.length * per };
}
