/**
 * Deletion and insertion curves (Petsiuk, Das & Saenko 2018, "RISE", Sec. 4.1): order pixels by attribution,
 * most important first. Deletion replaces them, a fraction at a time, with a baseline (black) and records the
 * target-class probability; a faithful map makes it fall fast (low AUC is good). Insertion starts from the
 * baseline and restores the pixels in the same order (high AUC is good). All steps of all samples run as one
 * batch per sample, split into forward passes of the memory plan's size. AUC is the trapezoid rule over the fraction of pixels changed, in [0, 1].
 */
import * as tf from '@tensorflow/tfjs';

export interface Curves {
  deletion: number[];
  insertion: number[];
  deletionAuc: number;
  insertionAuc: number;
}

export function trapezoid(ys: number[]): number {
  if (ys.length < 2) return ys[0] ?? 0;
  let area = 0;
  for (let i = 1; i < ys.length; i++) area += (ys[i - 1] + ys[i]) / 2;
  return area / (ys.length - 1);
}

/** Pixel order by decreasing attribution (ties by position, so the order is deterministic). */
export function pixelOrder(map: ArrayLike<number>): Int32Array {
  const idx = Int32Array.from({ length: map.length }, (_, i) => i);
  return idx.sort((a, b) => map[b] - map[a] || a - b);
}

/** The curves' shared end points: the target's probability on the image and on the all-baseline image. */
export interface CurveEnds {
  original: number;
  baseline: number;
}

const channelValues = (baseline: number | number[], C: number) => Array.from({ length: C }, (_, c) => (Array.isArray(baseline) ? baseline[c] : baseline));

/** Both end points in one forward pass of two images (shared by every method's curves for this sample). */
export function curveEnds(model: tf.LayersModel, x: tf.Tensor4D, target: number, baseline: number | number[] = 0): CurveEnds {
  const [, H, W, C] = x.shape;
  const b = channelValues(baseline, C);
  const black = new Float32Array(H * W * C);
  for (let i = 0; i < black.length; i++) black[i] = b[i % C];
  const [original, base] = tf.tidy(() => {
    const p = model.predict(tf.concat([x, tf.tensor4d(black, [1, H, W, C])]), { batchSize: 2 }) as tf.Tensor2D;
    return Array.from(tf.squeeze(tf.slice(p, [0, target], [2, 1]), [1]).dataSync());
  });
  return { original, baseline: base };
}

/**
 * x: one sample [1, H, W, C] in model units; map: its attribution [H·W]; `steps` + 1 points per curve.
 * `baseline` is the value removed pixels take (0 = black in [0, 1] inputs), one per channel when an array.
 * The first and last points of both curves are the image and the all-baseline image whatever the map: pass
 * `ends` (from `curveEnds`) to reuse them across methods — 2 · (steps − 1) images per method instead of 2 · (steps + 1).
 */
export function deletionInsertion(
  model: tf.LayersModel,
  x: tf.Tensor4D,
  map: ArrayLike<number>,
  target: number,
  steps = 16,
  baseline: number | number[] = 0,
  /** Images per forward pass (the memory plan's forward limit). */
  batchSize = Infinity,
  ends: CurveEnds = curveEnds(model, x, target, baseline),
): Curves {
  const [, H, W, C] = x.shape;
  const order = pixelOrder(map);
  const pixels = x.dataSync();
  const b = channelValues(baseline, C);
  // Inner points s = 1 … steps − 1 only.
  const n = Math.max(0, steps - 1);
  const del = new Float32Array(n * H * W * C);
  const ins = new Float32Array(n * H * W * C);
  for (let i = 0; i < ins.length; i++) ins[i] = b[i % C];
  for (let j = 0; j < n; j++) {
    const k = Math.round(((j + 1) / steps) * H * W);
    const base = j * H * W * C;
    del.set(pixels, base);
    for (let r = 0; r < k; r++) {
      const p = order[r];
      for (let c = 0; c < C; c++) {
        del[base + p * C + c] = b[c];
        ins[base + p * C + c] = pixels[p * C + c];
      }
    }
  }
  const probs = n === 0 ? [] : tf.tidy(() => {
    const batch = tf.concat([tf.tensor4d(del, [n, H, W, C]), tf.tensor4d(ins, [n, H, W, C])]);
    const p = model.predict(batch, { batchSize: Math.max(1, Math.min(2 * n, batchSize)) }) as tf.Tensor2D;
    return Array.from(tf.squeeze(tf.slice(p, [0, target], [2 * n, 1]), [1]).dataSync());
  });
  const deletion = [ends.original, ...probs.slice(0, n), ends.baseline];
  const insertion = [ends.baseline, ...probs.slice(n), ends.original];
  return { deletion, insertion, deletionAuc: trapezoid(deletion), insertionAuc: trapezoid(insertion) };
}
